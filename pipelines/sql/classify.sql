-- Classify every record of one input file and extract its envelope, in one vectorised pass.
-- Input: temp table _lines(line, text). Output: temp table _candidates, one row per event
-- (a batch array expands to one row per element); `reason` is non-null for rows to quarantine.
-- Parameters: $forced_source (varchar or null), $loaded_at (timestamptz).
create or replace temp table _candidates as
with docs as (
    select line, text::json as doc
    from _lines
    where text is not null and trim(text) <> '' and json_valid(text)
),

requests as (
    -- a captured request {"headers": {...}, "body": ...} is the landing zone's own format
    select
        line,
        json_type(doc) = 'OBJECT' and json_type(doc, '$.headers') = 'OBJECT' and json_exists(doc, '$.body') as is_request,
        doc
    from docs
),

bodies as (
    select
        line,
        case when is_request then map_from_entries(list_transform(
            map_entries(json_transform(doc -> 'headers', '"MAP(VARCHAR, VARCHAR)"')),
            lambda e: {'key': lower(e.key), 'value': e.value}
        )) end as h,
        case when is_request then try_cast(doc ->> 'received_at' as timestamptz) end as request_received_at,
        case
            -- a body captured as a string holding JSON is the same event
            when is_request and json_type(doc, '$.body') = 'VARCHAR' and json_valid(doc ->> 'body') then (doc ->> 'body')::json
            when is_request then doc -> 'body'
            else doc
        end as body
    from requests
),

elements as (
    -- CloudEvents batch mode: an array body (or an array line) holds one structured event per element
    select
        line, h, request_received_at,
        unnest(case when json_type(body) = 'ARRAY' and json_array_length(body) > 0
                    then json_extract(body, '$[*]') else [body] end) as e,
        unnest(case when json_type(body) = 'ARRAY' and json_array_length(body) > 0
                    then range(1, json_array_length(body)::bigint + 1) else [null::bigint] end) as element
    from bodies
),

kinds as (
    select
        *,
        case
            when h['ce-specversion'] is not null then 'binary'
            when json_type(e) = 'OBJECT' and json_exists(e, '$.specversion') then 'structured'
            when json_type(e) = 'OBJECT' and json_type(e, '$.context') = 'OBJECT' and json_exists(e, '$.subject') then 'bare'
        end as ce_kind,
        case
            when $forced_source in ('cloudevents', 'cdevents') then null
            when $forced_source is not null then $forced_source
            when h['x-lifecycle-source'] is not null then lower(h['x-lifecycle-source'])
            when h['x-github-event'] is not null then 'github'
            when h['x-gitlab-event'] is not null then 'gitlab'
            when h['gotk-component'] is not null then 'flux'
            when h['x-pagerduty-signature'] is not null then 'pagerduty'
        end as header_tool
    from elements
),

envelopes as (
    select
        line, element, h, e, ce_kind, request_received_at, header_tool,
        case when ce_kind is null then header_tool end as webhook_tool,
        case ce_kind
            when 'binary' then h['ce-id'] when 'structured' then e ->> 'id' when 'bare' then e -> 'context' ->> 'id'
        end as ce_id,
        case ce_kind
            when 'binary' then h['ce-source'] when 'structured' then e ->> 'source' when 'bare' then e -> 'context' ->> 'source'
        end as ce_source,
        case ce_kind
            when 'binary' then h['ce-type'] when 'structured' then e ->> 'type' when 'bare' then e -> 'context' ->> 'type'
        end as ce_type,
        case ce_kind
            when 'binary' then h['ce-time'] when 'structured' then e ->> 'time' when 'bare' then e -> 'context' ->> 'timestamp'
        end as ce_time,
        case ce_kind when 'binary' then h['ce-specversion'] when 'structured' then e ->> 'specversion' end as ce_specversion,
        coalesce(h['x-github-delivery'], h['x-gitlab-event-uuid'], h['x-lifecycle-delivery'],
                 case when header_tool = 'pagerduty' then e -> 'event' ->> 'id' end) as delivery_id,
        coalesce(h['x-github-event'], h['x-gitlab-event'], e ->> 'object_kind', e -> 'event' ->> 'event_type',
                 e ->> 'event_type', e ->> 'type', e ->> 'reason') as webhook_type,
        -- the CDEvent carried: a CloudEvent's data (binary: the body) or the bare event itself
        case
            when ce_kind = 'bare' then e
            when ce_kind = 'binary' and json_type(e, '$.context') = 'OBJECT' and json_exists(e, '$.subject') then e
            when ce_kind = 'structured' and json_type(e, '$.data.context') = 'OBJECT' and json_exists(e, '$.data.subject') then e -> 'data'
        end as cdevent
    from kinds
),

checked as (
    select
        *,
        concat_ws(', ',
            case when coalesce(ce_id, '') = '' then 'id' end,
            case when coalesce(ce_source, '') = '' then 'source' end,
            case when ce_kind <> 'bare' and coalesce(ce_specversion, '') = '' then 'specversion' end,
            case when coalesce(ce_type, '') = '' then 'type' end,
            case when ce_kind = 'bare' and coalesce(ce_time, '') = '' then 'timestamp' end
        ) as missing
    from envelopes
)

select
    line,
    element,
    case
        when json_type(e) = 'ARRAY' then 'empty batch: the array holds no events'
        when ce_kind in ('binary', 'structured') and missing <> '' then
            'CloudEvent is missing required attribute(s): ' || missing
            || ' (a CloudEvent needs id, source, specversion and type)'
        when ce_kind in ('binary', 'structured') and ce_specversion not in ('1.0', '0.3') then
            'unsupported CloudEvents specversion ''' || ce_specversion || ''' (expected 1.0)'
        when ce_kind = 'bare' and missing <> '' then
            'CDEvent is missing context.' || replace(missing, ', ', ', context.')
            || ' (a CDEvent needs context.id, source, type and timestamp)'
        when ce_kind is null and json_type(e) <> 'OBJECT' then
            'not an event: a JSON ' || lower(json_type(e)) || ' where an object was expected'
        when ce_kind is null and webhook_tool is null and $forced_source in ('cloudevents', 'cdevents') then
            'not a ' || (case $forced_source when 'cloudevents' then 'CloudEvent (no specversion)' else 'CDEvent (no context/subject)' end)
            || ', but --source ' || $forced_source || ' was given'
        when ce_kind is null and webhook_tool is null then
            'unrecognised event: not a CloudEvent (no specversion), not a CDEvent (no context and subject), '
            || 'and no vendor headers; replay it as a captured request with its headers, or pass --source TOOL'
    end as reason,
    case when ce_kind is null then 'webhook' when cdevent is not null then 'cdevent' else 'cloudevent' end as event_format,
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
        lambda x: not regexp_matches(x.key, 'authorization|token|secret|signature|cookie|api-key|password')))) end as headers,
    e as payload,
    cdevent,
    case when ce_time is not null and try_cast(ce_time as timestamptz) is null
         then ['time: ''' || ce_time || ''' is not an RFC 3339 timestamp'] else []::varchar[] end as envelope_errors
from checked
