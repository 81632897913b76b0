// JSON shapes of API resources (snake_case, RFC 3339 times), as the seeds show them.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "model/binding.h"
#include "model/identity.h"
#include "model/secret.h"
#include "service/audit_log.h"
#include "service/gateway_service.h"
#include "store/store.h"

namespace coffer::api {

boost::json::object RenderVault(const Vault& vault);

// Metadata of one version, without its value: id, path, type, version, metadata, created_at,
// expires_at, max_access_count, access_count, is_disabled, … Keys the seed's
// SecretCreatedResponse names come first.
boost::json::object RenderSecretMeta(const SecretVersion& version,
                                     boost::json::storage_ptr sp = {});

// One entry of secret-versions.
boost::json::object RenderVersionEntry(const SecretVersion& version);
// A secret's rotation schedule: id, vault_id, path, rotation_policy, next_rotation_at.
boost::json::object RenderSchedule(const SecretSchedule& schedule);

boost::json::object RenderUser(const User& user);
// An API key's public record: id (its public id), name, created_at, revoked_at. Never a secret.
boost::json::object RenderApiKey(const Credential& credential);
boost::json::object RenderAgent(const Agent& agent);
boost::json::object RenderPolicy(const Policy& policy);
// {} without conditions; else time_window and/or ip_allowlist as the seeds' bodies write them.
boost::json::object RenderPolicyConditions(const PolicyConditions& conditions);
boost::json::object RenderAuditEvent(const AuditEvent& event);
// An event as the seeds' OpenAPI description's AuditEvent (GET /v1/audit/events): id (see
// AuditEventId), actor, resource (AuditEventResource), details, ip_address, created_at; and
// the chain's hash, prev_hash and prev_event_id.
boost::json::object RenderSpecAuditEvent(const AuditEvent& event);
boost::json::object RenderVerification(const AuditVerification& verification);

// The seeds' BindingResponse: id, agent_id, binding_type, name, config, guardrails, is_active,
// credential_set, credential_source_type "vault_ref", credential_vault_id, credential_path,
// created_at, updated_at. Never a value.
boost::json::object RenderBinding(const Binding& binding);
// The seeds' ExecutionEventResponse, with request_summary and result_summary.
boost::json::object RenderExecution(const ExecutionRecord& record);
// The seeds' ExecuteResponse. The body is a string when it is UTF-8 (and `json` its parse when
// it parses), else `body_base64`.
boost::json::object RenderExecuteResult(const GatewayCallResult& result);

}  // namespace coffer::api
