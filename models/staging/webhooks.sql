-- staging.webhooks: vendor webhooks that no source model maps, kept with their tool and event name
-- verbatim and no stage (they count as unknown event types). Mapped tools (docs/sources.md): GitHub
-- (staging.github_push_commits, staging.github_events), GitLab (staging.gitlab_push_commits,
-- staging.gitlab_tags, staging.gitlab_events), Argo CD (staging.argocd_notifications), Harbor
-- (staging.harbor_events), Flux (staging.flux_alerts), PagerDuty (staging.pagerduty_incidents), and git
-- history (staging.git_history), Kubernetes snapshots (staging.kubernetes_deployments), Jenkins notifications
-- (staging.jenkins_notifications), k6 summaries (staging.k6_summaries), Argo Rollouts
-- (staging.argo_rollouts_notifications), Flagger (staging.flagger_events). What remains
-- here: tools named by --source or X-Lifecycle-Source that no model maps yet (keptn, generic webhooks).
with source as (
    select * from raw.events
    where event_format = 'webhook'
      and coalesce(source_tool, '') not in ('github', 'gitlab', 'argocd', 'pagerduty', 'harbor', 'flux', 'git', 'kubernetes',
                                     'jenkins', 'k6', 'argo-rollouts', 'flagger')
)

select
    event_key,
    event_id,
    coalesce(source_tool, 'unknown') as source_tool,
    coalesce(source_tool, 'unknown') || ':' || coalesce(event_type, '?') as raw_type,
    null::varchar as stage,
    occurred_at,
    received_at,
    validation_errors
from source
