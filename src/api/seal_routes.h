// The seal routes of a server whose root key is split into unseal shares: GET
// /v1/sys/seal-status and POST /v1/sys/unseal (no credentials: a sealed server cannot check
// any), and POST /v1/sys/seal (an admin, once unsealed). The 503 every other route answers
// while sealed. What sealing and unsealing do is the server's (SealControl).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "api/handler.h"
#include "http/client_ip.h"
#include "http/message.h"
#include "http/router.h"

namespace coffer::api {

struct SealStatus {
  bool sealed = true;
  int threshold = 0;
  int shares = 0;
  int progress = 0;  // distinct valid shares given since the last reset or unseal
};

struct SealControl {
  std::function<SealStatus()> status;
  // Adds one share (its printable text) for the request `ctx`; the status after it.
  // kInvalidArgument for a malformed share, one of another store, or one already given (progress
  // unchanged), and "the shares do not open this store" when the threshold was reached with a
  // wrong share (progress reset); kResourceExhausted when the address tries too often.
  std::function<StatusOr<SealStatus>(std::string_view share, const RequestContext& ctx)> unseal;
  // Forgets the shares given so far.
  std::function<SealStatus()> reset;
  // Drops the keys and seals; called by an authenticated admin.
  std::function<Status()> seal;
};

// Registers GET /v1/sys/seal-status and POST /v1/sys/unseal. `control` and `proxies` outlive
// the router.
void RegisterUnsealRoutes(http::Router& router, const SealControl& control,
                          const http::TrustedProxies& proxies);

// Registers POST /v1/sys/seal: admin only, audited as sys.seal.
void RegisterSealRoute(http::Router& router, const RouteContext& rc, const SealControl& control);

// 503 urn:coffer:problem:sealed, for every other route while the server is sealed.
http::Response SealedProblem();

}  // namespace coffer::api
