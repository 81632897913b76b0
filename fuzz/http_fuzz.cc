// Raw HTTP/1.1 bytes through what the server does with them: Beast's request parser with the
// server's header and body limits (ServerOptions defaults), pipelined requests one after another,
// header names lower-cased, then the server's target decoding, the router and the real handlers
// over a real service stack (fuzz_env.h). Checks FuzzEnv::CheckResponse for every request, that
// the parser never reads past the input, and that a message it accepts has a method and target.
// This is a fuzz-only translation unit, so it may include Beast (http/server*.cc keep it out of
// every header).
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_env.h"
#include "http/request_target.h"
#include "http/server.h"

namespace {

namespace bhttp = boost::beast::http;

constexpr int kMaxPipelined = 8;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using coffer::fuzz::Check;
  coffer::fuzz::FuzzEnv& env = coffer::fuzz::FuzzEnv::Get();
  std::string wire(reinterpret_cast<const char*>(data), size);
  env.Substitute(wire);
  const coffer::http::ServerOptions limits;

  std::string_view rest = wire;
  for (int n = 0; n < kMaxPipelined && !rest.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
    parser.eager(true);
    boost::beast::error_code ec;
    size_t used = 0;
    while (!parser.is_done()) {
      const size_t got =
          parser.put(boost::asio::buffer(rest.data() + used, rest.size() - used), ec);
      Check(got <= rest.size() - used, "the parser consumed more than it was given");
      used += got;
      if (ec == bhttp::error::need_more && got > 0) {
        ec = {};
        continue;
      }
      if (ec || got == 0) {
        // Incomplete (the server would wait, then see end-of-stream and close) or malformed
        // (the server answers 400/413/431 and closes): no handler runs.
        return 0;
      }
    }
    rest.remove_prefix(used);

    const auto& message = parser.get();
    coffer::http::Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    Check(!request.method.empty(), "a parsed request without a method");
    for (const auto& field : message) {
      request.headers.emplace_back(coffer::http::ToLowerAscii(field.name_string()),
                                   std::string(field.value()));
    }
    request.body = message.body();
    const bool keep_alive = message.keep_alive();

    const coffer::http::Response response = env.Handle(request);
    env.CheckResponse(request, response);
    if (!keep_alive) {
      break;  // the server closes the connection after this response
    }
  }
  return 0;
}
