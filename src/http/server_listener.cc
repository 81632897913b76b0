// Accepting connections: binding the listening socket, the accept loop, and the connection limits
// (per peer address and in all, within the open-file limit), making room at the total limit by
// closing the connection idle the longest.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <chrono>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "http/server_internal.h"

namespace coffer::http::server_internal {

namespace {

// Open files kept free of connections (for the store, logs, the accept itself): an eighth of the
// limit, within these bounds.
constexpr size_t kMinReservedFiles = 64;
constexpr size_t kMaxReservedFiles = 1024;
// After a failed accept (out of descriptors or similar), before the next one.
constexpr std::chrono::milliseconds kAcceptBackoff{50};
constexpr std::chrono::milliseconds kAcceptBackoffAfterEviction{5};
// To make room, the connection idle the longest among the first this many idle ones, in order of
// acceptance, is closed: exact for a few idle connections and, like a sampled LRU, a bounded cost
// per admission under a flood of them (the oldest connections are looked at first).
constexpr size_t kEvictionCandidates = 16;

std::string PeerIp(const tcp::socket& socket) {
  beast::error_code ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) {
    return "";
  }
  asio::ip::address addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  }
  try {
    return addr.to_string();
  } catch (const std::exception&) {
    return "";
  }
}

// Closes a socket refused at once: a reset, so neither side keeps it in TIME_WAIT.
void Refuse(tcp::socket& socket) {
  beast::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

}  // namespace

size_t ConnectionLimit(size_t configured) {
  size_t files = std::numeric_limits<size_t>::max();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    files = static_cast<size_t>(limit.rlim_cur);
  }
  const size_t reserve = std::clamp(files / 8, kMinReservedFiles, kMaxReservedFiles);
  const size_t by_files = files > reserve + 1 ? files - reserve : 1;
  return configured == 0 ? by_files : std::min(configured, by_files);
}

Status BeastHttpServer::Bind() {
  beast::error_code ec;
  tcp::resolver resolver(*contexts_.front());
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (ec) {
    return UnavailableError("cannot resolve " + where + ": " + ec.message());
  }
  for (const auto& entry : endpoints) {
    const tcp::endpoint ep = entry.endpoint();
    acceptor_.close(ec);
    acceptor_.open(ep.protocol(), ec);
    if (ec) {
      continue;
    }
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) {
      continue;
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      continue;
    }
    port_ = acceptor_.local_endpoint(ec).port();
    if (!ec) {
      InstallSignalHandlers();
      return OkStatus();
    }
  }
  beast::error_code ignored;
  acceptor_.close(ignored);
  return UnavailableError("cannot listen on " + where + ": " +
                          (ec ? ec.message() : std::string("no address")));
}

void BeastHttpServer::Deregister(uint64_t id) {
  MutexLock lock(mu_);
  auto it = connections_.find(id);
  if (it != connections_.end()) {
    auto count = per_address_.find(it->second.address);
    if (count != per_address_.end() && --count->second == 0) {
      per_address_.erase(count);
    }
    connections_.erase(it);
    active_connections_.fetch_sub(1);
  }
  if (draining_.load() && connections_.empty()) {
    StopLocked();
  }
}

asio::awaitable<void> BeastHttpServer::AcceptLoop() {
  for (;;) {
    // The new connection's io_context is its thread: no strand is needed, nothing else runs
    // its handlers.
    auto [ec, socket] = co_await acceptor_.async_accept(
        asio::any_io_executor(NextContext().get_executor()), kNoThrow);
    if (draining_.load() || !acceptor_.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of descriptors or similar: back off instead of spinning. Out of descriptors with
      // connections idle, the one idle the longest gives its descriptor to whoever is waiting.
      std::chrono::milliseconds backoff = kAcceptBackoff;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory ||
          ec == boost::system::errc::too_many_files_open_in_system) {
        std::shared_ptr<ConnectionBase> evict;
        {
          MutexLock lock(mu_);
          evict = OldestIdleLocked();
        }
        if (evict) {
          evict->CloseIfIdle();
          backoff = kAcceptBackoffAfterEviction;
        }
      }
      asio::steady_timer timer(control_, backoff);
      co_await timer.async_wait(kNoThrow);
      continue;
    }
    StartConnection(std::move(socket));
  }
}

std::shared_ptr<ConnectionBase> BeastHttpServer::OldestIdleLocked() {
  Registered* oldest = nullptr;
  std::shared_ptr<ConnectionBase> oldest_conn;
  MonotonicTime::rep oldest_since = 0;
  size_t candidates = 0;
  for (auto& [id, registered] : connections_) {
    if (registered.evicted) {
      continue;
    }
    std::shared_ptr<ConnectionBase> conn = registered.conn.lock();
    const MonotonicTime::rep since =
        conn != nullptr ? conn->idle_since.load() : ConnectionBase::kBusy;
    if (since == ConnectionBase::kBusy) {
      continue;
    }
    if (oldest == nullptr || since < oldest_since) {
      oldest = &registered;
      oldest_conn = std::move(conn);
      oldest_since = since;
    }
    if (++candidates == kEvictionCandidates) {
      break;
    }
  }
  if (oldest != nullptr) {
    oldest->evicted = true;
    evicted_connections_.fetch_add(1);
  }
  return oldest_conn;
}

size_t BeastHttpServer::idle_connections() const {
  MutexLock lock(mu_);
  size_t idle = 0;
  for (const auto& [id, registered] : connections_) {
    std::shared_ptr<ConnectionBase> conn = registered.conn.lock();
    idle += conn != nullptr && conn->idle() && !registered.evicted ? 1 : 0;
  }
  return idle;
}

std::optional<uint64_t> BeastHttpServer::AdmitLocked(const std::string& address,
                                                     std::shared_ptr<ConnectionBase>& evict) {
  auto count = per_address_.find(address);
  const size_t from_address = count == per_address_.end() ? 0 : count->second;
  if (options_.max_connections_per_address != 0 &&
      from_address >= options_.max_connections_per_address) {
    return std::nullopt;
  }
  if (connections_.size() >= max_connections_) {
    evict = OldestIdleLocked();
    if (evict == nullptr) {
      return std::nullopt;  // every connection is busy with a request
    }
  }
  const uint64_t id = next_connection_id_++;
  connections_.emplace(id, Registered{.conn = {}, .address = address});
  ++per_address_[address];
  active_connections_.fetch_add(1);
  return id;
}

void BeastHttpServer::StartConnection(tcp::socket socket) {
  // The TCP peer: behind a proxy this is the proxy, whatever X-Forwarded-For says later.
  std::string peer_ip = PeerIp(socket);
  if (peer_ip.empty()) {
    Refuse(socket);  // gone already
    return;
  }
  std::optional<uint64_t> id;
  std::shared_ptr<ConnectionBase> evict;
  std::shared_ptr<ssl::context> context;
  {
    MutexLock lock(mu_);
    id = AdmitLocked(peer_ip, evict);
    context = tls_context_;
  }
  if (!id.has_value()) {
    refused_connections_.fetch_add(1);
    Refuse(socket);
    return;
  }
  if (evict != nullptr) {
    evict->CloseIfIdle();
  }
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto start = [&](auto conn) {
    {
      // Registered by AdmitLocked; nothing else looks at it until Serve runs, and this runs on
      // control_ like every other admission and BeginShutdown.
      MutexLock lock(mu_);
      connections_.at(*id).conn = conn;
    }
    auto executor = conn->stream.get_executor();
    asio::co_spawn(executor, Serve(std::move(conn), *id, std::move(peer_ip)),
                   [](std::exception_ptr) {});
  };
  if (context) {
    start(std::make_shared<Connection<TlsStream>>(std::move(socket), std::move(context)));
  } else {
    start(std::make_shared<Connection<PlainStream>>(std::move(socket), nullptr));
  }
}

}  // namespace coffer::http::server_internal
