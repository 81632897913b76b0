// From a parsed request to its response: the route is matched, the handler runs on the worker
// pool (or first on the I/O thread, for a route that allows it), and before_send is awaited.
#include <cxxabi.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <typeinfo>
#include <utility>

#include "common/non_blocking.h"
#include "http/problem_json.h"
#include "http/server_internal.h"

namespace coffer::http::server_internal {

namespace {

constexpr size_t kMaxMethodInDetail = 16;

// Replaces `response`, wiping its body first if it holds a secret, so that never lingers unsent,
// and abandoning its streamed body, which will not be sent.
void ReplaceResponse(Response& response, Response replacement) {
  if (response.sensitive) {
    SecureWipe(response.body);
  }
  if (response.stream) {
    response.stream->Abandon();
  }
  response = std::move(replacement);
}

// "std::runtime_error" for typeid(std::runtime_error).
std::string DemangledTypeName(const std::type_info& type) {
  int status = 0;
  char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name != nullptr ? name : type.name();
  std::free(name);
  return out;
}

Response InternalErrorProblem(std::string cause) {
  return ProblemFromStatus(InternalError(std::move(cause)));
}

// Resumes the coroutine whose completion handler is `handler` with `status`, on the handler's
// own executor (the connection's strand). The handler is moved into the posted operation and the
// executor copy dies before this returns, so afterwards the caller holds nothing bound to the
// io_context: that operation is the only owner, run by the io_context or destroyed with it
// (while its strand service still exists). Thread-safe.
template <typename Handler>
void PostResume(Handler& handler, Status status) {
  auto executor = asio::get_associated_executor(handler);
  asio::post(executor, [resume = std::move(handler), status = std::move(status)]() mutable {
    std::move(resume)(std::move(status));
  });
}

}  // namespace

asio::awaitable<void> BeastHttpServer::Dispatch(const Request& request, std::string& route_template,
                                                Response& response) {
  RouteMatch match = router_.Match(request.method, request.segments);
  switch (match.kind) {
    case RouteMatch::Kind::kNotFound:
      response = ProblemFromStatus(
          NotFoundError("no route for " + request.method.substr(0, kMaxMethodInDetail)));
      co_return;
    case RouteMatch::Kind::kMethodNotAllowed:
      response = Problem(
          405, "method-not-allowed", "Method not allowed",
          "method " + request.method.substr(0, kMaxMethodInDetail) + " is not allowed here");
      response.headers.emplace_back("Allow", match.allow);
      co_return;
    case RouteMatch::Kind::kFound:
      break;
  }
  route_template = match.route_template;

  // The store blocks, so handlers run on the worker pool; this coroutine resumes on the
  // connection's strand afterwards. A route marked io_thread is tried here first, on the I/O
  // thread, and goes to the pool only if it would wait. The result is written in place rather
  // than returned so a sensitive body is not moved through intermediate storage.
  const Handler& handler = *match.handler;
  const RouteParams& params = match.params;
  // A handler bug (an exception, whose message may hold anything) becomes a generic 500.
  auto run_handler = [&] {
    try {
      response = handler(request, params);
    } catch (const std::exception& e) {
      // The type only: an exception's message may hold anything, a value included.
      response = InternalErrorProblem("the handler threw " + DemangledTypeName(typeid(e)));
    } catch (...) {
      response = InternalErrorProblem("the handler threw a non-standard exception");
    }
  };
  bool answered = false;
  if (match.options.io_thread && options_.io_thread_routes) {
    NonBlockingScope scope;
    run_handler();
    answered = !scope.refused();
    if (!answered) {
      // It would have waited: that attempt left no trace; run it again where waiting is fine.
      ReplaceResponse(response, Response());
    }
  }
  if (!answered) {
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [&](auto resume) {
          asio::post(workers_, [&, resume = std::move(resume)]() mutable {
            run_handler();
            auto executor = asio::get_associated_executor(resume);
            asio::post(executor, std::move(resume));
          });
        },
        asio::use_awaitable);
  }
  if (response.status < 200 || response.status > 599) {
    ReplaceResponse(response, InternalErrorProblem("the handler answered HTTP status " +
                                                   std::to_string(response.status)));
  }
}

asio::awaitable<void> BeastHttpServer::AwaitBeforeSend(Response& response) {
  const std::function<void(std::function<void(Status)>)> before_send =
      std::move(response.before_send);
  response.before_send = nullptr;
  Status outcome = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      [this, &before_send](auto handler) {
        before_send_in_flight_.Add();
        // std::function needs a copyable callable; the coroutine's handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        before_send([this, shared](Status s) {
          PostResume(*shared, std::move(s));
          // The last use of the server: it may be destroyed as soon as this returns. Whatever
          // the caller still holds (this continuation, copies of it) holds only the empty shell
          // PostResume left, nothing of the server's io_context.
          before_send_in_flight_.Done();
        });
      },
      asio::use_awaitable);
  if (!outcome.ok()) {
    Response refused = ProblemFromStatus(outcome);
    refused.actor_id = std::move(response.actor_id);
    ReplaceResponse(response, std::move(refused));
  }
}

}  // namespace coffer::http::server_internal
