// `coffer run`: resolves coffer:// references and --bundle secrets into a child's environment,
// starts the child with posix_spawnp in a process group of its own, passes signals on to that
// group through a signalfd, optionally watches the secrets for new versions (restart, or a
// signal), and exits with the child's status once nothing of its group is left. A secret may not
// set a variable that changes how the child starts (client/child_env_rules.h) unless --allow-env
// names it, and coffer's own token is not passed on unless --pass-token.
#include "agent/run_command.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "agent/run_bindings.h"
#include "agent/run_watch.h"
#include "client/child_env_rules.h"
#include "client/coffer_client.h"
#include "client/env_bundle.h"
#include "client/exit_codes.h"
#include "client/secret_reference.h"

extern char** environ;

namespace coffer::agent {

using client::ConnectionFlags;
using client::ReportError;

namespace {

using client::CofferClient;
using client::SecretReference;
using Clock = std::chrono::steady_clock;

// How long one long poll asks the server to wait (under the 60 s many proxies allow).
constexpr int kLongPollSeconds = 50;

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

bool IsStopSignal(int sig) {
  return sig == SIGHUP || sig == SIGINT || sig == SIGQUIT || sig == SIGTERM;
}

// "HUP", "SIGHUP", "hup" or "1" -> SIGHUP. 0 when unknown.
int ParseSignal(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.starts_with("SIG")) name = name.substr(3);
  static const std::map<std::string, int> kNames = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"TERM", SIGTERM},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}, {"ALRM", SIGALRM},
      {"KILL", SIGKILL}, {"CONT", SIGCONT}};
  if (auto it = kNames.find(name); it != kNames.end()) return it->second;
  int n = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (!name.empty() && ec == std::errc() && ptr == name.data() + name.size() && n > 0 && n < 65) {
    return n;
  }
  return 0;
}

int ExitStatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return kExitError;
}

// One secret the child's environment is built from.
struct Source {
  bool is_bundle = false;
  std::string var_name;  // the variable a reference replaces (not for bundles)
  SecretReference ref;
  std::string vault_id;
  int64_t version = 0;  // the version in the running child's environment
  std::string Label() const {
    return is_bundle ? fmt::format("--bundle {}/{}", ref.vault, ref.path)
                     : fmt::format("{}={}", var_name, ref.ToString());
  }
};

// A child environment: "NAME=value" entries in wiped memory, in a stable order.
class ChildEnv {
 public:
  void Set(std::string_view name, std::string_view value) {
    SecretBuffer entry(name.size() + 1 + value.size() + 1);
    std::memcpy(entry.data(), name.data(), name.size());
    entry.data()[name.size()] = '=';
    std::memcpy(entry.data() + name.size() + 1, value.data(), value.size());
    entry.data()[entry.size() - 1] = '\0';
    const std::string key(name);
    if (auto it = index_.find(key); it != index_.end()) {
      entries_[it->second] = std::move(entry);
    } else {
      index_[key] = entries_.size();
      entries_.push_back(std::move(entry));
    }
  }
  // NULL-terminated pointers, valid while this ChildEnv lives unchanged.
  std::vector<char*> Pointers() {
    std::vector<char*> out;
    for (SecretBuffer& e : entries_) out.push_back(reinterpret_cast<char*>(e.data()));
    out.push_back(nullptr);
    return out;
  }

 private:
  std::vector<SecretBuffer> entries_;
  std::map<std::string, size_t> index_;
};

// What the child learns of coffer's own connection with --pass-token.
struct PassedConnection {
  std::string addr;
  SecretBuffer token;
  std::string ca_cert;
};

class Runner {
 public:
  // `passed`: set with --pass-token, else nullopt (COFFER_TOKEN is then removed).
  Runner(CofferClient& client, const RunOptions& options, std::optional<PassedConnection> passed,
         ProxyVariables proxy)
      : client_(client),
        options_(options),
        allowed_(options.allow_env.begin(), options.allow_env.end()),
        passed_(std::move(passed)),
        proxy_(std::move(proxy)) {}

  // Reads the references from the environment and the --bundle options. kInvalidArgument, also
  // for a reference in a variable a secret may not set.
  Status Collect() {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      const size_t eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view name = entry.substr(0, eq);
      const std::string_view value = entry.substr(eq + 1);
      if (!client::LooksLikeReference(value)) {
        // coffer's own credential stays with coffer unless --pass-token.
        if (name != client::kTokenVariable) {
          plain_.emplace_back(std::string(name), std::string(value));
        }
        continue;
      }
      auto ref = client::ParseSecretReference(value);
      if (!ref.has_value()) {
        return InvalidArgumentError(fmt::format("{}: {}", name, ref.error().message()));
      }
      Source source;
      source.var_name = std::string(name);
      source.ref = *ref;
      if (Status s = client::CheckSecretVariable(name, allowed_); !s.ok()) {
        return Status(s.code(), Prefix(source, s));
      }
      sources_.push_back(std::move(source));
    }
    for (const std::string& bundle : options_.bundles) {
      auto ref = client::ParseSecretReference(bundle, /*scheme_optional=*/true);
      if (!ref.has_value()) {
        return InvalidArgumentError(fmt::format("--bundle {}: {}", bundle, ref.error().message()));
      }
      Source source;
      source.is_bundle = true;
      source.ref = *ref;
      sources_.push_back(std::move(source));
    }
    for (Source& s : sources_) {
      auto id = client_.ResolveVault(s.ref.vault);
      if (!id.has_value()) return Status(id.error().code(), Prefix(s, id.error()));
      s.vault_id = *id;
    }
    return OkStatus();
  }

  // Fetches every source and builds the environment; records the versions only on success.
  StatusOr<ChildEnv> Fetch() {
    ChildEnv env;
    for (const auto& [name, value] : plain_) env.Set(name, value);
    if (passed_.has_value()) {
      env.Set("COFFER_ADDR", passed_->addr);
      if (!passed_->token.empty()) env.Set(client::kTokenVariable, passed_->token.view());
      if (!passed_->ca_cert.empty()) env.Set("COFFER_CA_CERT", passed_->ca_cert);
    }
    for (const auto& [name, url] : proxy_.urls) env.Set(name, url);
    for (const std::string& name : proxy_.key_names) env.Set(name, proxy_.key.view());
    std::vector<int64_t> versions;
    // References first (they replace their own variable), then bundles in the order given.
    for (int pass = 0; pass < 2; ++pass) {
      for (const Source& s : sources_) {
        if (s.is_bundle != (pass == 1)) continue;
        auto secret = s.ref.version.has_value()
                          ? client_.GetSecretVersion(s.vault_id, s.ref.path, *s.ref.version)
                          : client_.GetSecret(s.vault_id, s.ref.path);
        if (!secret.has_value()) {
          return Err(Status(secret.error().code(), Prefix(s, secret.error())));
        }
        versions.push_back(secret->meta.version);
        if (!s.is_bundle) {
          RETURN_IF_ERROR(RefuseNul(s, s.var_name, secret->value.view()));
          env.Set(s.var_name, secret->value.view());
          continue;
        }
        if (secret->meta.type != "env_bundle") {
          return Err(InvalidArgumentError(fmt::format(
              "{}: the secret is of type {}, not env_bundle", s.Label(), secret->meta.type)));
        }
        auto entries = client::ParseEnvBundle(secret->value.view());
        if (!entries.has_value()) {
          return Err(
              InvalidArgumentError(fmt::format("{}: {}", s.Label(), entries.error().message())));
        }
        // Every entry is checked before any is used: a refused one stops the whole run.
        for (const client::EnvEntry& e : *entries) {
          if (Status ok = client::CheckSecretVariable(e.name, allowed_); !ok.ok()) {
            return Err(Status(ok.code(), Prefix(s, ok)));
          }
          RETURN_IF_ERROR(RefuseNul(s, e.name, e.value.view()));
        }
        for (const client::EnvEntry& e : *entries) env.Set(e.name, e.value.view());
      }
    }
    size_t i = 0;
    for (int pass = 0; pass < 2; ++pass) {
      for (Source& s : sources_) {
        if (s.is_bundle == (pass == 1)) s.version = versions[i++];
      }
    }
    return env;
  }

  // The sources whose latest readable version differs from the one in use (pinned ones never
  // change). Describes each change in `what`.
  StatusOr<bool> Changed(std::string& what) {
    bool changed = false;
    for (const Source& s : sources_) {
      if (s.ref.version.has_value()) continue;
      auto list = client_.ListVersions(s.vault_id, s.ref.path);
      if (!list.has_value()) return Err(Status(list.error().code(), Prefix(s, list.error())));
      int64_t latest = 0;
      for (const auto& v : list->versions) {
        if (!v.is_disabled) {
          latest = v.version;
          break;
        }
      }
      if (latest != 0 && latest != s.version) {
        if (!what.empty()) what += ", ";
        what += fmt::format("{}/{} version {} -> {}", s.ref.vault, s.ref.path, s.version, latest);
        changed = true;
      }
    }
    return changed;
  }

  // The unpinned sources, each with the version in use, for the long polls.
  std::vector<SecretLongPolls::Target> LongPollTargets() const {
    std::vector<SecretLongPolls::Target> out;
    for (const Source& s : sources_) {
      if (s.ref.version.has_value()) continue;
      out.push_back(
          {fmt::format("{}/{}", s.ref.vault, s.ref.path), s.vault_id, s.ref.path, s.version});
    }
    return out;
  }

  bool HasWatchable() const {
    for (const Source& s : sources_) {
      if (!s.ref.version.has_value()) return true;
    }
    return false;
  }

 private:
  // An environment variable ends at its first NUL byte: such a value would reach the child cut
  // short, so it is refused, naming the variable (never the value).
  static Status RefuseNul(const Source& s, std::string_view var, std::string_view value) {
    if (value.find('\0') == std::string_view::npos) return OkStatus();
    return InvalidArgumentError(fmt::format(
        "{}: the value of {} holds a NUL byte, which an environment variable cannot carry (it "
        "would be cut short); read it as a file instead: coffer secrets get {} {}{} > FILE",
        s.Label(), var, s.ref.vault, s.ref.path,
        s.ref.version.has_value() ? fmt::format(" --version {}", *s.ref.version) : ""));
  }

  static std::string Prefix(const Source& s, const Status& error) {
    return fmt::format("{}: {}", s.Label(), error.message());
  }

  CofferClient& client_;
  const RunOptions& options_;
  const std::set<std::string, std::less<>> allowed_;
  const std::optional<PassedConnection> passed_;
  const ProxyVariables proxy_;
  std::vector<std::pair<std::string, std::string>> plain_;
  std::vector<Source> sources_;
};

// Runs the command in a process group of its own and supervises the whole group: signals go to
// the group, and a restart or the command's end stops every process left in it (SIGTERM, then
// SIGKILL after the grace time), so a wrapper that does not exec leaves nothing behind. coffer is
// a subreaper, so the processes the command leaves come back to it to be reaped. In the
// foreground of a terminal the group is made the terminal's foreground group while it runs: the
// command reads the terminal and gets ^C and ^Z itself, as any job of a shell.
class Supervisor {
 public:
  Supervisor(const RunOptions& options, int signal_fd, const sigset_t& child_mask)
      : options_(options),
        signal_fd_(signal_fd),
        child_mask_(child_mask),
        terminal_fd_(ForegroundTerminal()) {}

  // Starts the command with `env`. On failure prints why and returns 127 (not found) or 126.
  int Spawn(ChildEnv& env) {
    std::vector<char*> argv;
    for (const std::string& a : options_.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp = env.Pointers();
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &child_mask_);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : kForwarded) sigaddset(&defaults, sig);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);  // a new group, led by the command
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // Only while coffer holds the terminal: taking it from the background would steal it from
    // the shell.
    if (terminal_fd_ >= 0 && ::tcgetpgrp(terminal_fd_) == ::getpgrp()) {
      posix_spawn_file_actions_addtcsetpgrp_np(&actions, terminal_fd_);
    }
    const int rc = posix_spawnp(&child_, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      child_ = -1;
      fmt::print(stderr, "coffer run: {}: {}\n", options_.command[0], std::strerror(rc));
      return rc == ENOENT ? 127 : 126;
    }
    group_ = child_;
    leader_status_.reset();
    return 0;
  }

  // Waits for signals and the command until it ends for good; returns its exit status.
  // `on_poll` runs every watch interval, and at once when `wake_fd` (if not -1) is readable
  // (after `drain_wake` emptied it); it may call Restart or Signal.
  template <typename OnPoll>
  int Loop(OnPoll on_poll, int wake_fd = -1, const std::function<void()>& drain_wake = nullptr) {
    auto next_poll = Clock::now() + Interval();
    for (;;) {
      int timeout = -1;
      if (options_.watch && !stopping_) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
        timeout = static_cast<int>(std::max<int64_t>(0, left.count()));
      }
      pollfd pfds[2] = {{.fd = signal_fd_, .events = POLLIN, .revents = 0},
                        {.fd = wake_fd, .events = POLLIN, .revents = 0}};
      const int n = ::poll(pfds, wake_fd >= 0 ? 2 : 1, timeout);
      if (n < 0 && errno != EINTR) {
        fmt::print(stderr, "coffer run: poll: {}\n", std::strerror(errno));
      }
      if (n > 0 && pfds[0].revents != 0) {
        if (auto status = DrainSignals(); status.has_value()) return *status;
      }
      bool woken = false;
      if (n > 0 && wake_fd >= 0 && pfds[1].revents != 0) {
        if (drain_wake) drain_wake();
        woken = true;  // a long poll saw a newer version: look now
      }
      if (options_.watch && !stopping_ && (woken || Clock::now() >= next_poll)) {
        if (auto status = on_poll(); status.has_value()) return *status;
        next_poll = Clock::now() + Interval();
      }
    }
  }

  // Stops the command's whole group (see StopGroup). Returns the command's exit status if a stop
  // signal arrived meanwhile (coffer should exit), else nullopt.
  std::optional<int> StopChild() {
    if (group_ <= 0) return std::nullopt;
    StopGroup();
    if (stopping_ && leader_status_.has_value()) return ExitStatusOf(*leader_status_);
    return std::nullopt;
  }

  // Sends `sig` to every process in the command's group.
  void SendToChild(int sig) {
    if (group_ > 0) ::kill(-group_, sig);
  }

 private:
  std::chrono::milliseconds Interval() const {
    return std::chrono::milliseconds(static_cast<int64_t>(options_.interval_seconds * 1000));
  }

  // The descriptor of the terminal whose foreground group coffer is in, or -1.
  static int ForegroundTerminal() {
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
      if (::isatty(fd) && ::tcgetpgrp(fd) == ::getpgrp()) return fd;
    }
    return -1;
  }

  bool GroupAlive() const { return group_ > 0 && (::kill(-group_, 0) == 0 || errno == EPERM); }

  // Reaps every child that ended: the command (its status is kept) and the processes it left,
  // which come back to coffer as their subreaper. Notes when the command was stopped.
  void Reap() {
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(-1, &status, WNOHANG | WUNTRACED);
      if (r <= 0) return;
      if (r != child_) continue;
      if (WIFSTOPPED(status)) {
        stopped_ = true;
        continue;
      }
      leader_status_ = status;
      child_ = -1;
    }
  }

  // Takes the terminal back from the command's group (coffer blocks SIGTTOU, so this works from
  // the background).
  void ReclaimTerminal() {
    if (terminal_fd_ >= 0 && group_ > 0 && ::tcgetpgrp(terminal_fd_) == group_) {
      ::tcsetpgrp(terminal_fd_, ::getpgrp());
    }
  }

  // The command was stopped at the terminal it holds (^Z): coffer stops too, so the shell sees
  // the job stopped and takes the terminal back; once continued, coffer hands the terminal back
  // (if it is in the foreground again) and continues the group.
  void Suspend() {
    stopped_ = false;
    if (terminal_fd_ < 0 || group_ <= 0 || ::tcgetpgrp(terminal_fd_) != group_) return;
    ReclaimTerminal();
    ::kill(::getpid(), SIGTSTP);  // returns once continued (fg or bg)
    if (::tcgetpgrp(terminal_fd_) == ::getpgrp()) ::tcsetpgrp(terminal_fd_, group_);
    ::kill(-group_, SIGCONT);
  }

  // Ends the command's group: SIGTERM (and SIGCONT, should it be stopped) to every process in
  // it, SIGKILL to those left after the grace time, and waits until none remains.
  void StopGroup() {
    if (GroupAlive()) {
      ::kill(-group_, SIGTERM);
      ::kill(-group_, SIGCONT);
    }
    auto deadline = Clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(options_.grace_seconds * 1000));
    bool killed = false;
    for (;;) {
      Reap();
      if (child_ <= 0 && !GroupAlive()) break;
      if (Clock::now() >= deadline) {
        if (killed) {
          fmt::print(stderr, "coffer run: process group {} did not end after SIGKILL\n", group_);
          break;
        }
        ::kill(-group_, SIGKILL);
        killed = true;
        deadline = Clock::now() + std::chrono::seconds(5);
      }
      // Processes the command left may still have a parent of their own, whose end coffer is not
      // told of: look again every few milliseconds.
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd pfd{.fd = signal_fd_, .events = POLLIN, .revents = 0};
      ::poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 1, 20)));
      if (pfd.revents & POLLIN) ReadSignals(/*forward=*/false);
    }
    ReclaimTerminal();
    group_ = -1;
  }

  // Reads pending signals, notes the command's end, and once it has ended stops what it left in
  // its group. Returns the command's exit status then.
  std::optional<int> DrainSignals() {
    ReadSignals(/*forward=*/true);
    Reap();
    if (stopped_) Suspend();
    if (child_ <= 0 && leader_status_.has_value()) {
      ReclaimTerminal();
      StopGroup();
      return ExitStatusOf(*leader_status_);
    }
    return std::nullopt;
  }

  // Passes signals on to the command's group (all of them, or with forward=false only those
  // that stop coffer). The group is never coffer's own, so a terminal's ^C that reached coffer
  // did not reach the command.
  void ReadSignals(bool forward) {
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
      const int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGCHLD) continue;
      if (IsStopSignal(sig)) stopping_ = true;
      if (forward || IsStopSignal(sig)) SendToChild(sig);
    }
  }

  const RunOptions& options_;
  int signal_fd_;
  sigset_t child_mask_;
  int terminal_fd_;                   // see ForegroundTerminal
  pid_t child_ = -1;                  // the command (the group's leader) until it is reaped
  pid_t group_ = -1;                  // its process group, until every process in it has ended
  std::optional<int> leader_status_;  // the command's wait status, once reaped
  bool stopped_ = false;
  bool stopping_ = false;
};

}  // namespace

int RunRun(const ConnectionFlags& flags, const RunOptions& options) {
  if (options.command.empty()) {
    fmt::print(stderr, "coffer run: no command given (coffer run -- CMD ARGS…)\n");
    return kExitUsage;
  }
  int watch_signal = 0;
  if (!options.signal_name.empty()) {
    watch_signal = ParseSignal(options.signal_name);
    if (watch_signal == 0) {
      fmt::print(stderr, "coffer run: unknown signal '{}' (e.g. HUP, USR1, TERM)\n",
                 options.signal_name);
      return kExitUsage;
    }
  }
  for (const std::string& name : options.allow_env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      fmt::print(stderr, "coffer run: --allow-env takes a variable name, e.g. --allow-env PATH\n");
      return kExitUsage;
    }
  }
  std::vector<BindingSpec> binding_specs;
  for (const std::string& b : options.bindings) {
    auto spec = ParseBindingSpec(b);
    if (!spec.has_value()) {
      fmt::print(stderr, "coffer run: {}\n", spec.error().message());
      return kExitUsage;
    }
    binding_specs.push_back(std::move(*spec));
  }
  auto connection = ResolveConnection(flags);
  if (!connection.has_value()) return ReportError(connection.error());
  std::optional<PassedConnection> passed;
  if (options.pass_token) {
    passed = PassedConnection{.addr = connection->addr,
                              .token = connection->token.Clone(),
                              .ca_cert = connection->ca_cert};
  }
  // What the long polls' clients need (a client of their own each).
  const std::string connection_addr = connection->addr;
  const std::string connection_ca_cert = connection->ca_cert;
  const long connection_timeout_ms = connection->timeout_ms;
  SecretBuffer client_token = connection->token.Clone();
  ProxyVariables proxy = MakeProxyVariables(connection->addr, binding_specs, client_token);
  auto client =
      client::CofferClient::Create(client::ClientOptions{.addr = connection->addr,
                                                         .token = std::move(connection->token),
                                                         .ca_cert = connection->ca_cert,
                                                         .timeout_ms = connection->timeout_ms});
  if (!client.has_value()) return ReportError(client.error());
  Runner runner(**client, options, std::move(passed), std::move(proxy));
  Status ready = CheckAgentHasBindings(**client, binding_specs);
  if (ready.ok()) ready = runner.Collect();
  if (!ready.ok()) {
    fmt::print(stderr, "coffer run: ");
    const int rc = ReportError(ready);
    fmt::print(stderr, "coffer run: {} was not started\n", options.command[0]);
    return rc;
  }
  auto env = runner.Fetch();
  if (!env.has_value()) {
    fmt::print(stderr, "coffer run: ");
    const int rc = ReportError(env.error());
    fmt::print(stderr, "coffer run: {} was not started\n", options.command[0]);
    return rc;
  }
  if (options.watch && !runner.HasWatchable()) {
    fmt::print(stderr, "coffer run: --watch has nothing to watch (no unpinned references)\n");
  }

  // Signals are taken through a signalfd from here on; the child gets the original mask.
  // SIGTTOU stays blocked, so coffer may take the terminal back and write from the background.
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : kForwarded) sigaddset(&handled, sig);
  sigaddset(&handled, SIGCHLD);
  sigset_t blocked = handled;
  sigaddset(&blocked, SIGTTOU);
  sigset_t original;
  ::sigprocmask(SIG_BLOCK, &blocked, &original);
  // The processes the command leaves behind are re-parented to coffer, which reaps them.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    // The group is still stopped as a whole; only what leaves it goes to init instead.
    fmt::print(stderr, "coffer run: warning: cannot reap the processes the command leaves: {}\n",
               std::strerror(errno));
  }
  const int sfd = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    fmt::print(stderr, "coffer run: signalfd: {}\n", std::strerror(errno));
    return kExitError;
  }
  Supervisor supervisor(options, sfd, original);
  if (int rc = supervisor.Spawn(*env); rc != 0) return rc;

  // The server answers a long poll the moment a secret gets a new version; the interval check
  // stays as the fallback (a server without long polls, a long poll that failed).
  std::optional<SecretLongPolls> long_polls;
  if (options.watch && runner.HasWatchable()) {
    auto token = std::make_shared<SecretBuffer>(client_token.Clone());
    const long timeout_ms = std::max<long>(connection_timeout_ms, (kLongPollSeconds + 15) * 1000L);
    long_polls.emplace(
        [addr = connection_addr, ca_cert = connection_ca_cert, token, timeout_ms] {
          return client::CofferClient::Create(client::ClientOptions{
              .addr = addr, .token = token->Clone(), .ca_cert = ca_cert, .timeout_ms = timeout_ms});
        },
        runner.LongPollTargets(), kLongPollSeconds,
        std::chrono::milliseconds(static_cast<int64_t>(options.interval_seconds * 1000)));
  }

  return supervisor.Loop(
      [&]() -> std::optional<int> {
        std::string what;
        auto changed = runner.Changed(what);
        if (!changed.has_value()) {
          fmt::print(stderr, "coffer run: cannot check for new versions: {}\n",
                     changed.error().message());
          return std::nullopt;
        }
        if (!*changed) return std::nullopt;
        auto fresh = runner.Fetch();
        if (!fresh.has_value()) {
          fmt::print(stderr,
                     "coffer run: cannot fetch the new versions ({}): {}; keeping the "
                     "running command\n",
                     what, fresh.error().message());
          return std::nullopt;
        }
        if (watch_signal != 0) {
          fmt::print(stderr, "coffer run: {}; sending SIG{} to {}\n", what,
                     sigabbrev_np(watch_signal) != nullptr ? sigabbrev_np(watch_signal) : "?",
                     options.command[0]);
          supervisor.SendToChild(watch_signal);
          return std::nullopt;
        }
        fmt::print(stderr, "coffer run: {}; restarting {}\n", what, options.command[0]);
        if (auto status = supervisor.StopChild(); status.has_value()) return status;
        *env = std::move(*fresh);
        if (int rc = supervisor.Spawn(*env); rc != 0) return rc;
        return std::nullopt;
      },
      long_polls.has_value() ? long_polls->fd() : -1, [&] { long_polls->Drain(); });
}

}  // namespace coffer::agent
