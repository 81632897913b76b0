// CofferClient's calls of /v1/sys/seal-status, /v1/sys/unseal and /v1/sys/seal. The share goes
// out in a body built in wiped memory, never in a URL.
#include <boost/json/object.hpp>

#include "client/api_json.h"
#include "client/coffer_client.h"

namespace coffer::client {

namespace {

SealStatus ToSealStatus(const boost::json::object& o) {
  return SealStatus{.sealed = Bool(o, "sealed"),
                    .threshold = Int(o, "threshold"),
                    .shares = Int(o, "shares"),
                    .progress = Int(o, "progress"),
                    .json = PlainCopy(o)};
}

StatusOr<SealStatus> SealStatusOf(StatusOr<WipedJson> answer) {
  if (!answer.has_value()) return Err(answer.error());
  ASSIGN_OR_RETURN(const boost::json::object* o, ObjectOf(*answer));
  return ToSealStatus(*o);
}

}  // namespace

StatusOr<SealStatus> CofferClient::GetSealStatus() {
  return SealStatusOf(Call("GET", "/v1/sys/seal-status"));
}

StatusOr<SealStatus> CofferClient::Unseal(const SecretBuffer& share) {
  // A share is letters, digits and '_': anything else is refused here rather than escaped.
  for (const char c : share.view()) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return Err(InvalidArgumentError(
          "not an unseal share: a share reads cfr_share_<index>_<hexadecimal digits>"));
    }
  }
  constexpr std::string_view kHead = R"({"share":")";
  constexpr std::string_view kTail = R"("})";
  SecretBuffer body(kHead.size() + share.size() + kTail.size());
  std::copy(kHead.begin(), kHead.end(), body.data());
  std::copy(share.view().begin(), share.view().end(), body.data() + kHead.size());
  std::copy(kTail.begin(), kTail.end(), body.data() + kHead.size() + share.size());
  return SealStatusOf(Call("POST", "/v1/sys/unseal", body.view()));
}

StatusOr<SealStatus> CofferClient::ResetUnseal() {
  return SealStatusOf(Call("POST", "/v1/sys/unseal", R"({"reset":true})"));
}

StatusOr<SealStatus> CofferClient::Seal() { return SealStatusOf(Call("POST", "/v1/sys/seal")); }

}  // namespace coffer::client
