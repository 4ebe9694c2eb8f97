-- intermediate.environment_steps: the order of the funnel's environment steps — every non-production
-- environment a successful deployment reached, ordered by tier (development, unknown, testing, staging),
-- then by name; `step_order` 11, 12, … (1–3 are built, published, scanned). All production environments
-- are one step, `production`, step_order 1000.
with environments as (
    select distinct
        environment,
        case environment_tier
            when 'development' then 1 when 'testing' then 3 when 'staging' then 4 when 'production' then 5
            else 2
        end as tier_rank
    from intermediate.deployments
    where outcome = 'success' and environment is not null
)

select
    environment,
    tier_rank,
    case when tier_rank = 5 then 'production' else environment end as step,
    case
        when tier_rank = 5 then 1000
        else 10 + row_number() over (partition by tier_rank = 5 order by tier_rank, environment)
    end as step_order
from environments
