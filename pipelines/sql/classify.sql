-- Classify every record of one input file and extract its envelope, in one vectorised pass.
-- Input: temp table _lines(file_no, line, doc JSON, bad) — doc null for lines that are not JSON. Output: temp table _candidates, one row
-- per event (a batch array expands to one row per element); `reason` is non-null for rows to quarantine.
-- Parameters: $forced_source (varchar or null), $loaded_at (timestamptz).
--
-- Speed: DuckDB's JSON type is text, so every `->>` re-parses the document. Each document is parsed
-- once by json_transform into a struct of the fields we need (`$envelope` below), and struct fields
-- are free after that.

-- A bare GitHub body's event name from its top-level keys (GitHub sends the name only in the
-- X-GitHub-Event header). Most specific first: a deployment_status body also holds `deployment`, a
-- workflow_job body may hold `deployment`, a deployment body holds `workflow_run`.
create or replace temp macro github_event_by_shape(k) as
    case
        when list_contains(k, 'zen') and list_contains(k, 'hook_id') then 'ping'
        when list_contains(k, 'deployment_status') then 'deployment_status'
        when list_contains(k, 'workflow_job') then 'workflow_job'
        when list_contains(k, 'deployment') then 'deployment'
        when list_contains(k, 'workflow_run') then 'workflow_run'
        when list_contains(k, 'check_run') then 'check_run'
        when list_contains(k, 'check_suite') then 'check_suite'
        when list_contains(k, 'registry_package') then 'registry_package'
        when list_contains(k, 'package') then 'package'
        when list_contains(k, 'release') then 'release'
        when list_contains(k, 'pull_request') and list_contains(k, 'review') then 'pull_request_review'
        when list_contains(k, 'pull_request') and list_contains(k, 'thread') then 'pull_request_review_thread'
        when list_contains(k, 'pull_request') and list_contains(k, 'comment') then 'pull_request_review_comment'
        when list_contains(k, 'pull_request') then 'pull_request'
        when list_contains(k, 'issue') and list_contains(k, 'comment') then 'issue_comment'
        when list_contains(k, 'issue') then 'issues'
        when list_contains(k, 'ref_type') and list_contains(k, 'master_branch') then 'create'
        when list_contains(k, 'ref_type') and list_contains(k, 'pusher_type') then 'delete'
        when list_contains(k, 'commits') or (list_contains(k, 'before') and list_contains(k, 'after')
             and list_contains(k, 'pusher')) then 'push'
        when list_contains(k, 'forkee') then 'fork'
        when list_contains(k, 'starred_at') then 'star'
        when list_contains(k, 'sha') and list_contains(k, 'state') and list_contains(k, 'context') then 'status'
        when list_contains(k, 'pages') then 'gollum'
    end;

create or replace temp table _candidates as
with lines as (
    select
        file_no,
        line,
        doc,
        left(ltrim(left(doc::varchar, 64)), 1) = '{' as is_object,
        json_transform(doc, $envelope) as s
    from _lines
    where doc is not null
),

bodies as (
    -- a captured request {"headers": {...}, "body": ..., "received_at": ...} is the landing zone's own format
    select
        file_no,
        line,
        s,
        is_object,
        s.headers is not null and s.body is not null as is_request,
        case when s.headers is not null and s.body is not null then map_from_entries(list_transform(
            map_entries(s.headers), lambda e: {'key': lower(e.key), 'value': e.value})) end as h,
        case when s.headers is not null and s.body is not null then try_cast(s.received_at as timestamptz) end
            as request_received_at,
        case
            when s.headers is null or s.body is null then doc
            -- a body captured as a string holding JSON is the same event
            when left(ltrim(left(s.body::varchar, 64)), 1) = '"' and json_valid(s.body ->> '$') then (s.body ->> '$')::json
            else s.body
        end as body
    from lines
),

batches as (
    -- the first character tells an array from the rest without parsing the whole document again;
    -- a binary-mode request's body is one event's data, even when that data is a JSON array
    select *, left(ltrim(left(body::varchar, 64)), 1) = '[' and (h is null or h['ce-specversion'] is null) as is_array
    from bodies
),

elements as (
    -- CloudEvents batch mode: an array body (or an array line) holds one structured event per element
    select
        file_no, line, h, request_received_at, is_request,
        -- the line's own parse is reused unless the event is a request body or a batch element
        case when not is_request and is_object then s end as s_line,
        unnest(case when is_array and json_array_length(body) > 0
                    then json_extract(body, '$[*]') else [body] end) as e,
        unnest(case when is_array and json_array_length(body) > 0
                    then range(1, json_array_length(body)::bigint + 1) else [null::bigint] end) as element,
        is_array and json_array_length(body) = 0 as is_empty_batch
    from batches
),

events as (
    select
        file_no, line, h, request_received_at, e, element, is_empty_batch,
        case when s_line is not null then s_line else json_transform(e, $envelope) end as s,
        case when s_line is not null then true else left(ltrim(left(e::varchar, 64)), 1) = '{' end as is_object
    from elements
),

kinds as (
    select
        *,
        case
            when h['ce-specversion'] is not null then 'binary'
            when s.specversion is not null then 'structured'
            when s.context is not null and s.subject is not null then 'bare'
        end as ce_kind,
        case
            when $forced_source in ('cloudevents', 'cdevents') then null
            when $forced_source is not null then $forced_source
            when h['x-lifecycle-source'] is not null then lower(h['x-lifecycle-source'])
            when h['x-github-event'] is not null then 'github'
            when h['x-gitlab-event'] is not null then 'gitlab'
            when h['gotk-component'] is not null then 'flux'
            when h['x-pagerduty-signature'] is not null then 'pagerduty'
            -- no vendor header and no --source: bodies whose shape names their tool unambiguously
            -- (a GitHub body has no such marker: it needs its X-GitHub-Event header or --source github)
            when s.app.kind = 'Application' and s.app.apiVersion like 'argoproj.io/%' then 'argocd'
            when s.occur_at is not null and s.event_data is not null and s.type is not null then 'harbor'
            when s.event.event_type is not null and s.event.resource_type is not null then 'pagerduty'
            when s.involvedObject is not null and s.reportingController is not null then 'flux'
            -- Jenkins Notification plugin: the job's name and its build with a phase
            when s.name is not null and s.build.phase in ('QUEUED', 'STARTED', 'COMPLETED', 'FINALIZED') then 'jenkins'
            -- k6's end-of-test summary (--summary-export or handleSummary's data)
            when s.metrics is not null and s.root_group is not null then 'k6'
            -- Argo Rollouts notifications whose template posts the Rollout ({{toJson .rollout}})
            when s.rollout.kind = 'Rollout' and s.rollout.apiVersion like 'argoproj.io/%' then 'argo-rollouts'
            -- Flagger's event webhook: a canary's name, namespace and phase with the recorded event's message
            when s.name is not null and s.namespace is not null and s.phase is not null
                 and s.metadata.eventMessage is not null then 'flagger'
            when s.object_kind in ('push', 'tag_push', 'merge_request', 'pipeline', 'build', 'job', 'deployment',
                                   'issue', 'work_item', 'note', 'wiki_page', 'release', 'feature_flag', 'emoji',
                                   'access_token', 'member', 'project', 'subgroup', 'vulnerability') then 'gitlab'
        end as header_tool
    from events
),

envelopes as (
    select
        file_no, line, element, h, e, ce_kind, request_received_at, header_tool, is_object, is_empty_batch,
        s.subject.content as own_content,
        case when ce_kind is null then header_tool end as webhook_tool,
        case ce_kind when 'binary' then h['ce-id'] when 'structured' then s.id when 'bare' then s.context.id end as ce_id,
        case ce_kind
            when 'binary' then h['ce-source'] when 'structured' then s.source when 'bare' then s.context.source
        end as ce_source,
        case ce_kind when 'binary' then h['ce-type'] when 'structured' then s.type when 'bare' then s.context.type end
            as ce_type,
        case ce_kind
            when 'binary' then h['ce-time'] when 'structured' then s.time when 'bare' then s.context.timestamp
        end as ce_time,
        case ce_kind when 'binary' then h['ce-specversion'] when 'structured' then s.specversion end as ce_specversion,
        coalesce(h['x-github-delivery'], h['x-gitlab-event-uuid'], h['x-lifecycle-delivery'],
                 case when header_tool = 'pagerduty' then s.event.id end) as delivery_id,
        case
            when ce_kind is not null then null
            when header_tool = 'github' then coalesce(h['x-github-event'], github_event_by_shape(json_keys(e)))
            else coalesce(h['x-gitlab-event'], s.object_kind, s.event.event_type, s.event_type, s.type, s.reason,
                          s.build.phase)
        end as webhook_type,
        -- the CDEvent carried: a CloudEvent's data (binary: the body) or the bare event itself
        case
            when ce_kind in ('bare', 'binary') and s.context is not null and s.subject is not null then e
            when ce_kind = 'structured' then s.data
        end as carried
    from kinds
),

carried as (
    select
        *,
        case when ce_kind = 'structured' and carried is not null then json_transform(carried, $envelope)
             when carried is not null then null end as d
    from envelopes
),

checked as (
    select
        * exclude (carried, d),
        case
            when ce_kind = 'structured' and d.context is not null and d.subject is not null then carried
            when ce_kind in ('bare', 'binary') then carried
        end as cdevent,
        case when ce_kind = 'structured' then d.subject.content else own_content end as cd_content,
        concat_ws(', ',
            case when coalesce(ce_id, '') = '' then 'id' end,
            case when coalesce(ce_source, '') = '' then 'source' end,
            case when ce_kind <> 'bare' and coalesce(ce_specversion, '') = '' then 'specversion' end,
            case when coalesce(ce_type, '') = '' then 'type' end,
            case when ce_kind = 'bare' and coalesce(ce_time, '') = '' then 'timestamp' end
        ) as missing
    from carried
)

select
    file_no,
    line,
    element,
    case
        when is_empty_batch then 'empty batch: the array holds no events'
        when ce_kind in ('binary', 'structured') and missing <> '' then
            'CloudEvent is missing required attribute(s): ' || missing
            || ' (a CloudEvent needs id, source, specversion and type)'
        when ce_kind in ('binary', 'structured') and ce_specversion not in ('1.0', '0.3') then
            'unsupported CloudEvents specversion ''' || ce_specversion || ''' (expected 1.0)'
        when ce_kind = 'bare' and missing <> '' then
            'CDEvent is missing context.' || replace(missing, ', ', ', context.')
            || ' (a CDEvent needs context.id, source, type and timestamp)'
        when ce_kind is null and not is_object then
            'not an event: a JSON ' || lower(json_type(e)) || ' where an object was expected'
        when ce_kind is null and webhook_tool is null and $forced_source in ('cloudevents', 'cdevents') then
            'not a ' || (case $forced_source when 'cloudevents' then 'CloudEvent (no specversion)'
                         else 'CDEvent (no context/subject)' end)
            || ', but --source ' || $forced_source || ' was given'
        when ce_kind is null and webhook_tool is null then
            'unrecognised event: not a CloudEvent (no specversion), not a CDEvent (no context and subject), '
            || 'and no vendor headers; replay it as a captured request with its headers, or pass --source TOOL'
    end as reason,
    case when ce_kind is null then 'webhook' when cdevent is not null then 'cdevent' else 'cloudevent' end
        as event_format,
    case when ce_kind is null then 'webhook'
         when ce_kind = 'structured' and element is not null then 'batch'
         else ce_kind end as transport,
    coalesce(webhook_tool, case when ce_kind is not null then header_tool end) as source_tool,
    case
        when ce_kind is not null then 'source+id+type'
        when delivery_id is not null then 'delivery-id'
        else 'content-hash'
    end as key_basis,
    case
        when ce_kind is not null then md5(concat_ws(chr(31), 'ce', ce_source, ce_id, ce_type))
        when delivery_id is not null then md5(concat_ws(chr(31), 'delivery', webhook_tool, delivery_id))
        else md5(concat_ws(chr(31), 'content', webhook_tool, e::varchar))
    end as event_key,
    case when ce_kind is not null then ce_id else coalesce(delivery_id, md5(e::varchar)) end as event_id,
    case when ce_kind is not null then ce_source end as event_source,
    case when ce_kind is not null then ce_type else webhook_type end as event_type,
    ce_specversion as spec_version,
    try_cast(ce_time as timestamptz) as occurred_at,
    coalesce(request_received_at, $loaded_at::timestamptz) as received_at,
    case when h is not null then to_json(map_from_entries(list_filter(map_entries(h),
        lambda x: not regexp_matches(x.key, 'authorization|token|secret|signature|cookie|api-key|password')))) end
        as headers,
    e as payload,
    -- what decides a CDEvent's structural validity: its type, its JSON shape, and the enum-valued fields
    case when cdevent is not null then md5(concat_ws(chr(31), ce_type, json_structure(cdevent)::varchar,
        cd_content.outcome, cd_content.severity)) end as shape,
    cdevent,
    case when ce_time is not null and try_cast(ce_time as timestamptz) is null
         then ['time: ''' || ce_time || ''' is not an RFC 3339 timestamp'] else []::varchar[] end as envelope_errors
from checked
