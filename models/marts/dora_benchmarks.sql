-- marts.dora_benchmarks: the DORA performance clusters as versioned data — one row per report year,
-- metric and tier — never one hard-coded year. A value is in the best tier whose bound it meets
-- (lower is better: lead time, change fail rate, recovery time; deployment frequency by its bucket).
-- Sources: Accelerate State of DevOps reports 2023 and 2024, cluster tables. Durations in seconds.
with clusters(report_year, metric, tier, tier_rank, upper_bound, label) as (
    values
        (2023, 'lead_time', 'elite', 1, 86400.0, 'less than one day'),
        (2023, 'lead_time', 'high', 2, 604800.0, 'between one day and one week'),
        (2023, 'lead_time', 'medium', 3, 2592000.0, 'between one week and one month'),
        (2023, 'lead_time', 'low', 4, null, 'between one week and one month (and slower)'),
        (2023, 'change_fail_rate', 'elite', 1, 0.05, '5%'),
        (2023, 'change_fail_rate', 'high', 2, 0.10, '10%'),
        (2023, 'change_fail_rate', 'medium', 3, 0.15, '15%'),
        (2023, 'change_fail_rate', 'low', 4, null, '64%'),
        (2023, 'recovery_time', 'elite', 1, 3600.0, 'less than one hour'),
        (2023, 'recovery_time', 'high', 2, 86400.0, 'less than one day'),
        (2023, 'recovery_time', 'medium', 3, 604800.0, 'between one day and one week'),
        (2023, 'recovery_time', 'low', 4, null, 'between one month and six months'),
        (2023, 'deployment_frequency', 'elite', 1, null, 'on-demand'),
        (2023, 'deployment_frequency', 'high', 2, null, 'daily-weekly'),
        (2023, 'deployment_frequency', 'medium', 3, null, 'weekly-monthly'),
        (2023, 'deployment_frequency', 'low', 4, null, 'weekly-monthly'),
        (2024, 'lead_time', 'elite', 1, 86400.0, 'less than one day'),
        (2024, 'lead_time', 'high', 2, 604800.0, 'between one day and one week'),
        (2024, 'lead_time', 'medium', 3, 2592000.0, 'between one week and one month'),
        (2024, 'lead_time', 'low', 4, null, 'between one month and six months'),
        (2024, 'change_fail_rate', 'elite', 1, 0.05, '5%'),
        (2024, 'change_fail_rate', 'high', 2, 0.20, '20%'),
        (2024, 'change_fail_rate', 'medium', 3, 0.10, '10%'),
        (2024, 'change_fail_rate', 'low', 4, null, '40%'),
        (2024, 'recovery_time', 'elite', 1, 3600.0, 'less than one hour'),
        (2024, 'recovery_time', 'high', 2, 86400.0, 'less than one day'),
        (2024, 'recovery_time', 'medium', 3, 86400.0, 'less than one day'),
        (2024, 'recovery_time', 'low', 4, null, 'between one week and one month'),
        (2024, 'deployment_frequency', 'elite', 1, null, 'on-demand'),
        (2024, 'deployment_frequency', 'high', 2, null, 'daily-weekly'),
        (2024, 'deployment_frequency', 'medium', 3, null, 'weekly-monthly'),
        (2024, 'deployment_frequency', 'low', 4, null, 'monthly-6-monthly')
)

select * from clusters
