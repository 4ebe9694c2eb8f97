-- intermediate.canonical_events: the union of every staging model, one row per canonical event, with the
-- names of services and environments resolved through the configuration (config.*: aliases, images,
-- repositories; the configured team, app, environment tier and order) and the Backstage catalogue
-- (intermediate.service_ownership: team and app at the event's time win over the configured ones).
-- incremental: event_key
-- indexes: artifact_id, chain_id, commit_sha, incident_id
with cdevents as (
    select * from staging.cdevents
),

cloudevents as (
    select * from staging.cloudevents
),

webhooks as (
    select * from staging.webhooks
),

github_commits as (
    select * exclude (parent_sha, branch, is_distinct, forced, author, subject, position)
    from staging.github_push_commits
),

github_events as (
    select * exclude (github_event, action, branch, job_name, queued_at, started_at, finished_at)
    from staging.github_events
),

argocd as (
    select * exclude (notification, phase, health, sync_status, image, is_rollback, namespace, argocd_url)
    from staging.argocd_notifications
),

pagerduty as (
    select * exclude (title, status, url)
    from staging.pagerduty_incidents
),

harbor as (
    select * exclude (payload_format, harbor_type, operator, image_repository, scan_status, vulnerabilities, fixable,
                      critical, high, medium, low)
    from staging.harbor_events
),

kubewatch as (
    select * exclude (object_kind, operation, namespace, object_name, images)
    from staging.kubewatch_events
),

kubernetes as (
    select * exclude (object_kind, namespace, object_name, images, snapshot_file)
    from staging.kubernetes_deployments
),

flux as (
    select * exclude (reason, object_kind, revision, message, reporting_controller)
    from staging.flux_alerts
),

gitlab_commits as (
    select * exclude (parent_sha, branch, is_distinct, forced, author, subject, position, push_key)
    from staging.gitlab_push_commits
),

gitlab_events as (
    select * exclude (gitlab_event, action, branch, job_name, queued_at, started_at, finished_at)
    from staging.gitlab_events
),

gitlab_tags as (
    select * exclude (record_kind, tag, author)
    from staging.gitlab_tags
),

git_history as (
    select * exclude (record_kind, parent_shas, authored_at, tag, author, subject)
    from staging.git_history
),

lifecycle_alerts as (
    select * exclude (alert_kind, condition_key, summary, deployment_id, alert_id)
    from staging.lifecycle_alerts
),

tekton as (
    select * exclude (tekton_kind, predicate, pipeline, task, reason, started_at, completed_at)
    from staging.tekton_events
),

jenkins as (
    select * exclude (job, build_number, queue_id, phase, status, job_stage, branch)
    from staging.jenkins_notifications
),

k6 as (
    select * exclude (checks_passed, checks_failed, thresholds, thresholds_crossed, iterations, http_req_p95_ms)
    from staging.k6_summaries
),

keptn_lifecycle as (
    select * exclude (keptn_phase, keptn_state, keptn_level, k8s_event_type, message)
    from staging.keptn_lifecycle_events
),

keptn_v1 as (
    select * exclude (keptn_task, keptn_status, task_status, result, evaluation_score, deployment_strategy,
                      deployment_uris_public, keptn_source)
    from staging.keptn_v1_events
),

argo_rollouts as (
    select * exclude (trigger, revision, phase, strategy, image, namespace)
    from staging.argo_rollouts_notifications
),

flagger as (
    select * exclude (phase, checksum, revision, message, k8s_event_type)
    from staging.flagger_events
),

unioned as (
    select * from cdevents
    union all by name
    select * from cloudevents
    union all by name
    select * from webhooks
    union all by name
    select * from github_commits
    union all by name
    select * from github_events
    union all by name
    select * from argocd
    union all by name
    select * from pagerduty
    union all by name
    select * from harbor
    union all by name
    select * from kubewatch
    union all by name
    select * from kubernetes
    union all by name
    select * from flux
    union all by name
    select * from gitlab_commits
    union all by name
    select * from gitlab_tags
    union all by name
    select * from gitlab_events
    union all by name
    select * from git_history
    union all by name
    select * from lifecycle_alerts
    union all by name
    select * from tekton
    union all by name
    select * from jenkins
    union all by name
    select * from k6
    union all by name
    select * from keptn_lifecycle
    union all by name
    select * from keptn_v1
    union all by name
    select * from argo_rollouts
    union all by name
    select * from flagger
),

-- the organisation's configuration (pipelines/source_config.py, docs/sources.md#configuration): the names
-- tools give a service or an environment mapped onto the canonical one
service_names as (
    select kind, name, service from config.service_names where kind in ('alias', 'image')
    union all
    -- a repository names a service only when it serves exactly one (not a monorepo)
    select 'repository', name, any_value(service)
    from config.service_names
    where kind = 'repository'
    group by name
    having count(distinct service) = 1
    union all
    -- a repository the Backstage catalogue links to one service only (its current state) names that service
    -- for events that name none
    select 'catalog_repository', repository, any_value(service)
    from intermediate.service_ownership
    where valid_to is null and repository is not null
    group by repository
    having count(distinct service) = 1
),

resolved as (
    select
        u.* exclude (service, team, app, environment, environment_tier),
        u.environment_tier as declared_tier,
        coalesce(by_alias.service, by_image.service, by_repository.service, u.service, by_catalog.service) as service,
        u.team as event_team,
        u.app as event_app,
        coalesce(env.environment, u.environment) as environment
    from unioned u
    left join service_names by_alias on by_alias.kind = 'alias' and by_alias.name = lower(u.service)
    left join service_names by_image
        on by_image.kind = 'image' and u.artifact_id similar to 'pkg:(oci|docker|helm)/.*'
        and by_image.name = lower(regexp_extract(purl_parts(u.artifact_id).name, '([^/]+)$', 1))
    left join service_names by_repository on by_repository.kind = 'repository' and by_repository.name = u.repository
    left join service_names by_catalog on by_catalog.kind = 'catalog_repository' and by_catalog.name = u.repository
    left join config.environment_aliases env on env.alias = lower(u.environment)
),

resolved_names as (
    select
        r.* exclude (declared_tier, event_team, event_app),
        -- the catalogue's owner and system at the event's time win, then the configured team and app of the
        -- service, then what the event says
        coalesce(o.team, s.team, r.event_team) as team,
        coalesce(o.app, s.app, r.event_app) as app,
        -- the configured tier, else the one a source declares (GitLab's deployment_tier), else the default rule
        coalesce(e.tier,
                 case when r.declared_tier in ('production', 'staging', 'testing', 'development') then r.declared_tier end,
                 default_environment_tier(r.environment)) as environment_tier,
        e.environment_order
    from resolved r
    left join config.services s on s.service = r.service
    left join intermediate.service_ownership o
        on o.service = r.service and r.occurred_at >= o.valid_from and (o.valid_to is null or r.occurred_at < o.valid_to)
    left join config.environments e on e.environment = r.environment
)

-- row_hash: a hash of the rest of the row, computed once when the row is written (by load): models kept by
-- partition sum it per key instead of hashing 11M wide rows every build (pipelines/partitions.py)
select c.*, hash(c) as row_hash
from resolved_names c
