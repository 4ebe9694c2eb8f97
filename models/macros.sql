-- Shared SQL macros, created before any model runs. Pure functions of their arguments.

-- A package URL reduced to its identity: lower-case type, name, percent-decoded version; qualifiers
-- (repository_url, tag, …) and subpath dropped, so the same image named two ways links up.
create or replace macro purl_parts(p) as
    regexp_extract(p, '^pkg:([^/]+)/([^@?#]+)(?:@([^?#]+))?(?:\?([^#]*))?', ['type', 'name', 'version', 'qualifiers']);

create or replace macro normalise_purl(p) as
    case when p like 'pkg:%' then
        'pkg:' || lower(purl_parts(p).type) || '/' || url_decode(purl_parts(p).name)
        || case when purl_parts(p).version <> '' then '@' || url_decode(purl_parts(p).version) else '' end
    else nullif(trim(p), '') end;

-- The image digest (sha256:…) named by a purl's version, if it is one.
create or replace macro purl_digest(p) as
    nullif(regexp_extract(lower(url_decode(coalesce(p, ''))), 'sha256:[0-9a-f]{64}'), '');

-- A human version: the purl's version unless it is a digest, else its `tag` qualifier.
create or replace macro purl_version(p) as
    case
        when p is null or p not like 'pkg:%' then null
        when purl_parts(p).version <> '' and url_decode(purl_parts(p).version) not like 'sha256:%'
            then url_decode(purl_parts(p).version)
        else nullif(url_decode(regexp_extract(purl_parts(p).qualifiers, '(?:^|&)tag=([^&]*)', 1)), '')
    end;

-- The tool behind an event source URI: a known tool name if one appears in it, else the host,
-- else the first path segment. A relative `job/<name>/…` is a Jenkins job URL (the Jenkins CDEvents plugin's
-- source).
create or replace macro tool_from_source(src) as
    coalesce(
        case when regexp_matches(lower(coalesce(src, '')), '^/?job/') then 'jenkins' end,
        nullif(replace(regexp_extract(lower(coalesce(src, '')),
            '(github|gitlab|bitbucket|gitea|tekton|jenkins|argo-?cd|argo-rollouts|flagger|flux|harbor|pagerduty|opsgenie|keptn|spinnaker|circleci|buildkite|kubewatch|artifactory|quay|trivy|snyk|cdviz)', 1),
            'argo-cd', 'argocd'), ''),
        nullif(regexp_extract(lower(coalesce(src, '')), '^[a-z][a-z0-9+.-]*://(?:www\.)?([^/:?#]+)', 1), ''),
        nullif(regexp_extract(lower(coalesce(src, '')), '^/*([^/?#]+)', 1), ''),
        'unknown'
    );

-- A commit sha, when a change id looks like one (7–40 hex digits); else null.
create or replace macro as_commit_sha(x) as
    case when regexp_full_match(lower(coalesce(x, '')), '[0-9a-f]{7,40}') then lower(x) end;

-- Outcomes in one vocabulary: success | failure | error | cancelled | skipped.
create or replace macro normalise_outcome(o) as
    case lower(coalesce(o, ''))
        when '' then null
        when 'success' then 'success' when 'succeeded' then 'success' when 'pass' then 'success' when 'passed' then 'success'
        when 'failure' then 'failure' when 'failed' then 'failure' when 'fail' then 'failure'
        when 'error' then 'error' when 'errored' then 'error'
        when 'cancel' then 'cancelled' when 'cancelled' then 'cancelled' when 'canceled' then 'cancelled'
        when 'skip' then 'skipped' when 'skipped' then 'skipped'
        else lower(o)
    end;

-- Environment tier when no configuration names it (DESIGN §4): production for prod*, production*,
-- prd*, live; then staging, testing and development by their usual names; else 'unknown'.
create or replace macro default_environment_tier(env) as
    case
        when env is null then null
        when regexp_full_match(lower(env), '(prod|production|prd)([-_.].*|[0-9].*)?|live([-_.].*)?') then 'production'
        when regexp_full_match(lower(env), '(stag|staging|stage|preprod|pre-prod|pre-production)([-_.].*|[0-9].*)?') then 'staging'
        when regexp_full_match(lower(env), '(qa|test|testing|uat|sit|int|integration)([-_.].*|[0-9].*)?') then 'testing'
        when regexp_full_match(lower(env), '(dev|develop|development|sandbox|local)([-_.].*|[0-9].*)?') then 'development'
        else 'unknown'
    end;

-- A repository named one way whatever the source: `https://github.com/Org/Repo.git`,
-- `git@github.com:Org/Repo.git` and `Org/Repo` all become `org/repo` (pipelines.gitlog does the same).
create or replace macro normalise_repository(r) as
    nullif(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(lower(trim(coalesce(r, ''))), '(\.git)?/?$', ''),
        '^[a-z][a-z0-9+.-]*://([^@/]+@)?[^/]+/', ''),
        '^[^@/]+@[^:/]+:', ''), '^/+', ''), '');

-- The first line of a commit message.
create or replace macro first_line(m) as split_part(coalesce(m, ''), chr(10), 1);

-- A timestamp in any of the shapes webhooks send, as UTC: ISO 8601 / RFC 3339 (`Z`, `+02:00`, `+0200`),
-- GitLab's `2021-01-01 10:00:00 UTC` and `2021-01-01 10:00:00 +0200`, a zone name. A timestamp with
-- no zone is taken as UTC (whatever the session's TimeZone); unreadable text gives null.
create or replace macro parse_timestamp(s) as
    case
        when regexp_matches(trim(coalesce(s, '')),
            '[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?|[A-Za-z][A-Za-z_/]*)$')
            then try_cast(regexp_replace(trim(s), '\s+([+-][0-9]{2}(:?[0-9]{2})?|[Zz])$', '\1') as timestamptz)
        else timezone('UTC', try_cast(trim(s) as timestamp))
    end;

-- ---------------------------------------------------------------------------------------------------
-- Vendor webhooks (models/staging/<source>_*.sql, docs/sources.md)
-- ---------------------------------------------------------------------------------------------------

-- An OCI image reference `registry/path/name:tag@sha256:…` taken apart: the repository path without the
-- registry host, the image name (last path segment, lower-case: the purl `name`), tag and digest.
create or replace macro image_parts(ref) as
    regexp_extract(lower(trim(coalesce(ref, ''))),
        '^(?:([^/]+[.:][^/]*|localhost)/)?([^:@]+?)(?::([^:@/]+))?(?:@(sha256:[0-9a-f]{64}))?$',
        ['registry', 'path', 'tag', 'digest']);

create or replace macro image_name(ref) as
    nullif(regexp_extract(image_parts(ref).path, '([^/]+)$', 1), '');

create or replace macro image_digest(ref) as nullif(image_parts(ref).digest, '');

create or replace macro image_tag(ref) as nullif(image_parts(ref).tag, '');

-- The artifact id of an OCI image (DESIGN §4: a normalised purl). With a digest it is the purl of the
-- spec, `pkg:oci/<name>@sha256:<digest>`; a reference with a tag only (no digest known) becomes
-- `pkg:oci/<name>@<tag>` — the tag stands in for the digest, so a moved tag cannot be told apart.
create or replace macro oci_artifact_id(name, digest, tag) as
    case
        when nullif(trim(coalesce(name, '')), '') is null then null
        when regexp_full_match(lower(coalesce(digest, '')), 'sha256:[0-9a-f]{64}')
            then 'pkg:oci/' || lower(trim(name)) || '@' || lower(digest)
        when nullif(trim(coalesce(tag, '')), '') is not null then 'pkg:oci/' || lower(trim(name)) || '@' || trim(tag)
    end;

create or replace macro image_artifact_id(ref) as
    oci_artifact_id(image_name(ref), image_digest(ref), image_tag(ref));

-- The source code of a repository at a commit, as a purl: what a deployment of a commit deploys when no
-- built artifact is named (a GitHub deployment, an Argo CD or Flux sync of a Git revision):
-- `pkg:github/<owner>/<repo>@<sha>` on github.com, `pkg:gitlab/<path>@<sha>` on a GitLab host, else
-- `pkg:generic/<path>@<sha>`. Null without a sha.
create or replace macro source_artifact_id(repo_url, sha) as
    case
        when as_commit_sha(sha) is null or normalise_repository(repo_url) is null then null
        when lower(coalesce(repo_url, '')) like '%github.com%' or lower(repo_url) not like '%/%'
            or regexp_full_match(lower(repo_url), '[a-z0-9_.-]+/[a-z0-9_.-]+')
            then 'pkg:github/' || normalise_repository(repo_url) || '@' || as_commit_sha(sha)
        when lower(repo_url) like '%gitlab%' then 'pkg:gitlab/' || normalise_repository(repo_url) || '@' || as_commit_sha(sha)
        else 'pkg:generic/' || normalise_repository(repo_url) || '@' || as_commit_sha(sha)
    end;

-- A GitHub Actions / checks conclusion in the outcome vocabulary (success | failure | error | cancelled |
-- skipped): timed_out is a failure, startup_failure an error, stale a cancellation, neutral a skip;
-- action_required is no outcome yet.
create or replace macro github_outcome(c) as
    case lower(coalesce(c, ''))
        when '' then null
        when 'timed_out' then 'failure'
        when 'startup_failure' then 'error'
        when 'stale' then 'cancelled'
        when 'neutral' then 'skipped'
        when 'action_required' then null
        else normalise_outcome(c)
    end;

-- A job or workflow that runs tests, by its name: test, tests, e2e, integration, unit, lint, check(s),
-- qa, codeql (as a word). Such jobs map to the test stages, the others to build / task stages.
create or replace macro is_test_job(name) as
    regexp_matches(lower(coalesce(name, '')),
        '(^|[^a-z])(test|tests|testing|e2e|integration|unit|lint|linter|linters|lint[a-z]*|check|checks|qa|codeql)([^a-z]|$)');

-- The labels that mark an issue as an incident (GitHub and GitLab issues), lower-case: `incident_labels` of
-- the configuration (pipelines/source_config.py), `incident` by default. GitLab issues of type `incident`
-- are incidents whatever their labels.
create or replace macro incident_labels() as (select coalesce(list(label), ['incident']) from config.incident_labels);

-- A name that is a placeholder, not an environment or cluster.
create or replace macro meaningful_name(x) as
    case when lower(trim(coalesce(x, ''))) in ('', 'in-cluster', 'default', 'kubernetes.default.svc',
                                               'https://kubernetes.default.svc') then null
         else trim(x) end;

-- ---------------------------------------------------------------------------------------------------
-- Kubernetes workloads: kubewatch events (staging.kubewatch_events) and `lifecycle ingest-kubernetes`
-- snapshots (staging.kubernetes_deployments) read a Deployment / StatefulSet / DaemonSet object alike.
-- ---------------------------------------------------------------------------------------------------

-- The kinds whose pod template a deployment changes (apps/v1).
create or replace macro k8s_is_workload(kind) as kind in ('Deployment', 'StatefulSet', 'DaemonSet');

-- The pod template's container images, sorted: what tells a new deployment from a scale or an annotation change.
create or replace macro k8s_images(obj) as
    list_sort(coalesce(json_extract_string(obj, '$.spec.template.spec.containers[*].image'), []::varchar[]));

-- The service a workload runs: label app.kubernetes.io/name, else the object's name.
create or replace macro k8s_service(obj) as
    coalesce(obj ->> '$.metadata.labels."app.kubernetes.io/name"', obj ->> '$.metadata.name');

-- The image that is the service: the container image named like the service, else the first container's.
create or replace macro k8s_image(obj) as
    coalesce(list_filter(json_extract_string(obj, '$.spec.template.spec.containers[*].image'),
                         lambda i: image_name(i) = lower(k8s_service(obj)))[1],
             obj ->> '$.spec.template.spec.containers[0].image');

-- Owner team (annotation, else label `owner.team`), app (label `app.kubernetes.io/part-of`), version (label
-- `app.kubernetes.io/version`, else the service image's tag).
create or replace macro k8s_team(obj) as
    coalesce(obj ->> '$.metadata.annotations."owner.team"', obj ->> '$.metadata.labels."owner.team"');

create or replace macro k8s_app(obj) as
    coalesce(obj ->> '$.metadata.labels."app.kubernetes.io/part-of"',
             obj ->> '$.metadata.annotations."app.kubernetes.io/part-of"');

create or replace macro k8s_version(obj) as
    coalesce(obj ->> '$.metadata.labels."app.kubernetes.io/version"', image_tag(k8s_image(obj)));

-- A workload's environment: label / annotation `environment` (or `env`); else its namespace when that names an
-- environment (configured, as a name or alias, or one the default tier rule knows: prod*, staging, dev, …); else
-- the cluster's name (as Argo CD's destination); else the namespace. intermediate.canonical_events then maps
-- configured aliases onto the canonical environment.
create or replace macro k8s_environment(obj, cluster) as
    coalesce(
        obj ->> '$.metadata.labels.environment', obj ->> '$.metadata.annotations.environment',
        obj ->> '$.metadata.labels.env', obj ->> '$.metadata.annotations.env',
        case when default_environment_tier(obj ->> '$.metadata.namespace') <> 'unknown'
                  or lower(obj ->> '$.metadata.namespace') in (select alias from config.environment_aliases)
             then obj ->> '$.metadata.namespace' end,
        meaningful_name(cluster),
        obj ->> '$.metadata.namespace');

-- The cluster a kubewatch event comes from (kubewatch sends a fixed source and clusterUid "TODO"): lifecycle.toml
-- [kubernetes] sources (matched on the CloudEvent source or clusterUid), else a real clusterUid, else
-- [kubernetes] cluster; null when none is configured.
create or replace macro kubewatch_cluster(src, uid) as
    coalesce(
        (select min(cluster) from config.kubernetes_clusters where kind = 'source' and name in (lower(src), lower(uid))),
        case when lower(coalesce(uid, '')) not in ('', 'todo') then uid end,
        (select min(cluster) from config.kubernetes_clusters where kind = 'default'));

-- ---------------------------------------------------------------------------------------------------
-- CI and test tools (staging.tekton_events, staging.jenkins_notifications, staging.k6_summaries)
-- ---------------------------------------------------------------------------------------------------

-- The value of the first of `names` (lower-case, in order of preference) among a list of {name, value} entries
-- — Tekton params and results (`[{"name": "IMAGE_DIGEST", "value": "sha256:…"}]`); names compared case-insensitively.
create or replace macro named_value(entries, names) as
    list_filter(list_transform(names, lambda n: list_filter(entries, lambda x: lower(x.name) = n)[1].value ->> '$'),
                lambda v: v is not null)[1];

-- Whether a period-maintained model (`-- incremental: period (ts)`, pipelines/periods.py) computes `period` in
-- this pass: the runner sets the `period_pass` variable to `calendar` (day, week, month) or `other` (all,
-- rolling windows); unset — a full build, or the SQL run by hand — every period.
create or replace macro in_period_pass(period) as
    coalesce(getvariable('period_pass'), 'all') = 'all'
    or (period in ('day', 'week', 'month')) = (getvariable('period_pass') = 'calendar');
