// The local-process driver: see io/local_process_driver.hpp for the contract.
//
// One thread owns everything (templates, children, the watch callback): calls queue closures
// for it and wake it through an eventfd. It sleeps in poll() on that eventfd and on one pidfd
// per running child, so an exit is seen the moment it happens; a pending SIGKILL deadline
// bounds the sleep. The thread that forks is also the one PR_SET_PDEATHSIG refers to, and it
// lives until stop() has reaped every child.
#include "io/local_process_driver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <variant>

#include "io/log.hpp"
#include "model/pod_template.hpp"

extern char** environ;

namespace iota::io {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view component = "local-driver";
// Without pidfds (kernels before 5.3) exits are found by waitpid(WNOHANG) this often.
constexpr auto fallback_poll_period = 50ms;
// CLOSE_RANGE_CLOEXEC of linux/close_range.h (kernel 5.11).
constexpr unsigned close_range_cloexec = 1u << 2;

std::string errno_text(int err) { return std::strerror(err); }

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

std::string wait_status_text(int status) {
  if (WIFEXITED(status))
    return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// `name` in bin_dir, then in $PATH; as is when it has a '/'. Empty when not found.
std::string resolve_command(const std::string& name, const std::string& bin_dir) {
  auto executable = [](const std::string& p) {
    std::error_code ec;
    return ::access(p.c_str(), X_OK) == 0 && !std::filesystem::is_directory(p, ec);
  };
  if (name.find('/') != std::string::npos)
    return executable(name) ? name : std::string();
  if (!bin_dir.empty() && executable(bin_dir + "/" + name))
    return bin_dir + "/" + name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    auto end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (executable(candidate))
      return candidate;
    start = end + 1;
  }
  return {};
}

// What a new child does between vfork and exec: system calls only, on what the parent
// prepared (see local_process_driver::spawn).
struct child_plan {
  const char* program;
  char* const* argv;
  char* const* envp;
  int null_fd;
  int log_fd;
  int exec_error_fd;  // the write end of a close-on-exec pipe: errno if exec fails
  int fd_limit;
  pid_t parent;
};

[[noreturn]] void run_child(const child_plan& p) {
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::signal(sig, SIG_DFL);  // EINVAL for the few reserved ones: harmless
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != p.parent)  // the daemon died before prctl took effect
    ::_exit(127);
  if (p.null_fd >= 0)
    ::dup2(p.null_fd, STDIN_FILENO);
  if (p.log_fd >= 0) {
    ::dup2(p.log_fd, STDOUT_FILENO);
    ::dup2(p.log_fd, STDERR_FILENO);
    if (p.log_fd <= STDERR_FILENO)  // dup2 onto itself keeps close-on-exec
      ::fcntl(p.log_fd, F_SETFD, 0);
  }
  // Nothing else of the daemon's (sockets, files) may leak into the worker.
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3u, ~0u, close_range_cloexec) != 0)
#endif
    for (int fd = 3; fd < p.fd_limit; ++fd)
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(p.program, p.argv, p.envp);
  int err = errno;
  while (::write(p.exec_error_fd, &err, sizeof err) < 0 && errno == EINTR) {}
  ::_exit(127);
}

// vfork, not fork: fork copied the page tables of a daemon holding hundreds of MB and then made
// every page it wrote copy-on-write, about a tenth of its CPU while instances were created
// under a full stream (perf, bench/README.md). The child shares the daemon's memory until it
// execs, so it only makes system calls; its signal dispositions and file table are its own.
pid_t start_child(const child_plan& p) {
  pid_t pid = ::vfork();
  if (pid == 0)
    run_child(p);
  return pid;
}

struct child {
  instance_ref ref;
  pid_t pid = -1;  // > 0 while the process has not been reaped
  int pidfd = -1;
  pod_phase phase = pod_phase::running;
  std::string detail;
  bool terminating = false;  // remove() asked for it
  bool killed = false;       // SIGKILL sent
  clock_type::time_point kill_at{};
  std::vector<instance_driver::result_fn> on_removed;
};

class local_process_driver final : public instance_driver {
 public:
  explicit local_process_driver(local_driver_settings settings) : settings_(std::move(settings)) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0)
      throw std::runtime_error("local driver: eventfd: " + errno_text(errno));
    thread_ = std::thread([this] { run(); });
  }

  ~local_process_driver() override {
    stop();
    if (thread_.joinable())  // destroyed from its own callback: a bug of the caller's
      thread_.detach();
    else
      ::close(wake_fd_);
  }

  void add_template(const std::string& resource, const std::string& instance_name,
                    const std::string& template_yaml) override {
    auto parsed = model::pod_template::parse(template_yaml, instance_name + "/pod-template.yml");
    if (auto* error = std::get_if<std::string>(&parsed)) {
      // create() will say so for every instance of the resource.
      log::error(component, *error);
      post(
        [this, resource, e = *error] {
          templates_.erase(resource);
          template_errors_[resource] = e;
        },
        [] {});
      return;
    }
    post(
      [this, resource, t = std::get<model::pod_template>(std::move(parsed))]() mutable {
        template_errors_.erase(resource);
        templates_.insert_or_assign(resource, std::move(t));
      },
      [] {});
  }

  void create(const instance_ref& instance, result_fn done) override {
    post([this, instance, done] { do_create(instance, done); },
         [done] {
           complete(done, {driver_result::code::error, "driver stopped"});
         });
  }

  void remove(const instance_ref& instance, result_fn done) override {
    post([this, instance, done] { do_remove(instance, done); },
         [done] {
           complete(done, {driver_result::code::error, "driver stopped"});
         });
  }

  void get(const instance_ref& instance, status_fn done) override {
    post(
      [this, instance, done] {
        pod_status s{instance, pod_phase::missing, {}};
        if (auto it = children_.find(instance.pod_name()); it != children_.end()) {
          s.phase = it->second.phase;
          s.detail = it->second.detail;
        }
        deliver(done, std::move(s));
      },
      [instance, done] {
        deliver(done, pod_status{instance, pod_phase::missing, "driver stopped"});
      });
  }

  void watch(status_fn on_change) override {
    post([this, on_change] { watch_ = on_change; }, [] {});
  }

  void stop() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    wake();
    // From a callback the thread cannot join itself: it ends once the callback returns.
    // Concurrent stop()s: the first joins, the others wait for it here.
    std::lock_guard lk(join_mu_);
    if (std::this_thread::get_id() != thread_.get_id() && thread_.joinable())
      thread_.join();
  }

 private:
  using task = std::function<void()>;

  // `work` runs on the driver thread; `refused` runs instead once the driver is stopping
  // (on the caller's thread after stop(), or on the driver thread for work queued before).
  void post(task work, task refused) {
    {
      std::lock_guard lk(mu_);
      if (!stopping_) {
        queue_.emplace_back(std::move(work), std::move(refused));
        wake();
        return;
      }
    }
    refused();
  }

  void wake() {
    std::uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {}
  }

  static void complete(const result_fn& done, driver_result r) {
    if (!done)
      return;
    try {
      done(std::move(r));
    } catch (const std::exception& e) {
      log::error(component, std::string("callback threw: ") + e.what());
    } catch (...) {
      log::error(component, "callback threw");
    }
  }

  static void deliver(const status_fn& fn, pod_status s) {
    if (!fn)
      return;
    try {
      fn(std::move(s));
    } catch (const std::exception& e) {
      log::error(component, std::string("callback threw: ") + e.what());
    } catch (...) {
      log::error(component, "callback threw");
    }
  }

  void report(const child& c) { deliver(watch_, pod_status{c.ref, c.phase, c.detail}); }

  // ---- the driver thread ----

  void run() {
    for (;;) {
      std::deque<std::pair<task, task>> tasks;
      bool stopping = false;
      {
        std::lock_guard lk(mu_);
        tasks.swap(queue_);
        stopping = stopping_;
      }
      if (stopping) {
        for (auto& t : tasks)
          t.second();
        break;
      }
      for (auto& t : tasks)
        t.first();
      reap_exited(true);
      escalate();
      wait_for_events(next_timeout());
    }
    shutdown();
  }

  std::optional<clock_type::duration> next_timeout() const {
    std::optional<clock_type::duration> timeout;
    auto consider = [&](clock_type::duration d) {
      d = std::max<clock_type::duration>(d, 0ms);
      timeout = timeout ? std::min(*timeout, d) : d;
    };
    auto now = clock_type::now();
    for (auto& [name, c] : children_) {
      if (c.pid <= 0)
        continue;
      if (c.pidfd < 0)
        consider(fallback_poll_period);
      if (c.terminating && !c.killed)
        consider(c.kill_at - now);
    }
    return timeout;
  }

  // Sleeps until work is queued, a child exits, or `timeout` passes (forever if none).
  void wait_for_events(std::optional<clock_type::duration> timeout) {
    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    for (auto& [name, c] : children_)
      if (c.pid > 0 && c.pidfd >= 0)
        fds.push_back({c.pidfd, POLLIN, 0});
    int ms = -1;
    if (timeout)
      ms = static_cast<int>(std::min<std::int64_t>(
        std::chrono::ceil<std::chrono::milliseconds>(*timeout).count(), 60'000));
    int r = ::poll(fds.data(), fds.size(), ms);
    if (r < 0 && errno != EINTR) {
      log::error(component, "poll: " + errno_text(errno));
      std::this_thread::sleep_for(fallback_poll_period);  // don't spin on a persistent error
    }
    if (r > 0 && (fds[0].revents & POLLIN)) {
      std::uint64_t n = 0;
      while (::read(wake_fd_, &n, sizeof n) < 0 && errno == EINTR) {}
    }
  }

  // Reaps every child that has exited. The rest of its process group (anything it started)
  // gets SIGKILL first, while the zombie still holds the group id: a pod's processes end with
  // its main one. `report` is false during shutdown.
  void reap_exited(bool report_changes) {
    for (auto it = children_.begin(); it != children_.end();) {
      child& c = it->second;
      if (c.pid <= 0) {
        ++it;
        continue;
      }
      siginfo_t info{};
      int r = ::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT);
      int status = 0;
      bool gone = false;
      std::string how;
      if (r == 0 && info.si_pid == c.pid) {
        ::kill(-c.pid, SIGKILL);
        pid_t w;
        while ((w = ::waitpid(c.pid, &status, 0)) < 0 && errno == EINTR) {}
        gone = true;
        how = w == c.pid ? wait_status_text(status) : "exit status unknown";
      } else if (r < 0 && errno == ECHILD) {
        // Reaped by someone else (SIGCHLD ignored, a waitpid(-1) elsewhere): gone, status lost.
        gone = true;
        status = -1;
        how = "exit status unknown (reaped elsewhere)";
      }
      if (!gone) {
        ++it;
        continue;
      }
      if (c.pidfd >= 0)
        ::close(c.pidfd);
      c.pidfd = -1;
      pid_t pid = c.pid;
      c.pid = -1;
      if (c.terminating) {
        log::info(component,
                  c.ref.pod_name() + " (pid " + std::to_string(pid) + ") removed, " + how);
        auto callbacks = std::move(c.on_removed);
        child gone_child = std::move(c);
        it = children_.erase(it);
        gone_child.phase = pod_phase::missing;
        gone_child.detail = "removed (" + how + ")";
        for (auto& done : callbacks)
          complete(done, {driver_result::code::ok, gone_child.detail});
        if (report_changes)
          report(gone_child);
        continue;
      }
      c.phase = status == 0 ? pod_phase::succeeded : pod_phase::failed;
      c.detail = how;
      log::info(component, c.ref.pod_name() + " (pid " + std::to_string(pid) + ") " + how + ": " +
                             std::string(to_string(c.phase)));
      if (report_changes)
        report(c);
      ++it;
    }
  }

  void escalate() {
    auto now = clock_type::now();
    for (auto& [name, c] : children_)
      if (c.pid > 0 && c.terminating && !c.killed && now >= c.kill_at) {
        log::warn(component, name + " (pid " + std::to_string(c.pid) + ") still running " +
                               std::to_string(settings_.kill_grace.count()) +
                               " ms after SIGTERM: SIGKILL");
        signal_group(c.pid, SIGKILL);
        c.killed = true;
      }
  }

  // The child leads its process group; if it left it, at least the child itself. Only called
  // while `pid` is unreaped, so neither the pid nor the group id can have been reused.
  static void signal_group(pid_t pid, int sig) {
    if (::kill(-pid, sig) != 0)
      ::kill(pid, sig);
  }

  void do_create(const instance_ref& ref, const result_fn& done) {
    const std::string pod = ref.pod_name();
    if (auto it = children_.find(pod); it != children_.end() && it->second.pid > 0) {
      complete(done,
               {driver_result::code::conflict,
                (it->second.terminating ? "still terminating (pid " : "already running (pid ") +
                  std::to_string(it->second.pid) + ")"});
      return;
    }
    auto fail = [&](const std::string& why) {
      log::warn(component, "cannot start " + pod + ": " + why);
      complete(done, {driver_result::code::error, why});
    };
    auto t = templates_.find(ref.resource);
    if (t == templates_.end()) {
      auto e = template_errors_.find(ref.resource);
      return fail(e != template_errors_.end() ? e->second
                                              : "no pod template for resource " + ref.resource);
    }
    model::process_spec spec;
    try {
      spec = t->second.process(ref.id);
    } catch (const std::exception& e) {
      return fail(std::string("pod template: ") + e.what());
    }
    if (spec.argv.empty())
      return fail("the pod template has no command");
    std::string program = resolve_command(spec.argv[0], settings_.bin_dir);
    if (program.empty())
      return fail("command not found: " + spec.argv[0] +
                  (settings_.bin_dir.empty() ? std::string(" (in $PATH)")
                                             : " (in " + settings_.bin_dir + " or $PATH)"));
    for (auto& a : settings_.extra_args)
      spec.argv.push_back(a);

    std::string log_file;
    if (!settings_.log_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(settings_.log_dir, ec);
      log_file = settings_.log_dir + "/" + pod + ".log";
    }
    std::string error;
    pid_t pid = spawn(program, spec.argv, environment(spec.env), log_file, error);
    if (pid <= 0)
      return fail(error);

    child c;
    c.ref = ref;
    c.pid = pid;
    c.pidfd = open_pidfd(pid);
    if (c.pidfd < 0 && !pidfd_warned_) {
      pidfd_warned_ = true;
      log::warn(component, "pidfd_open: " + errno_text(errno) + "; checking children every " +
                             std::to_string(fallback_poll_period.count()) + " ms instead");
    }
    c.phase = pod_phase::running;
    c.detail = "pid " + std::to_string(pid);
    std::string cmdline;
    for (auto& a : spec.argv)
      cmdline += " " + a;
    log::info(component, "started " + pod + " (pid " + std::to_string(pid) + "):" + cmdline);
    auto& stored = children_.insert_or_assign(pod, std::move(c)).first->second;
    complete(done, {driver_result::code::ok, stored.detail});
    report(stored);
  }

  void do_remove(const instance_ref& ref, const result_fn& done) {
    auto it = children_.find(ref.pod_name());
    if (it == children_.end()) {
      complete(done, {driver_result::code::not_found, "no such instance"});
      return;
    }
    child& c = it->second;
    if (c.pid <= 0) {  // exited already: just forget it
      child gone = std::move(c);
      children_.erase(it);
      gone.phase = pod_phase::missing;
      gone.detail = "removed";
      complete(done, {driver_result::code::ok, gone.detail});
      report(gone);
      return;
    }
    c.on_removed.push_back(done);
    if (c.terminating)
      return;
    c.terminating = true;
    c.detail = "terminating, pid " + std::to_string(c.pid);
    c.kill_at = clock_type::now() + settings_.kill_grace;
    if (settings_.kill_grace.count() <= 0) {
      signal_group(c.pid, SIGKILL);
      c.killed = true;
    } else {
      signal_group(c.pid, SIGTERM);
    }
  }

  // Template env in order (env[0] first and never overridden), the overrides, then the
  // daemon's environment for every name not set yet.
  std::vector<std::string> environment(
    const std::vector<std::pair<std::string, std::string>>& tpl) const {
    std::vector<std::pair<std::string, std::string>> vars = tpl;
    for (auto& [name, value] : settings_.env_overrides) {
      bool found = false;
      for (std::size_t i = 0; i < vars.size(); ++i)
        if (vars[i].first == name) {
          found = true;
          if (i > 0)
            vars[i].second = value;
        }
      if (!found)
        vars.emplace_back(name, value);
    }
    std::vector<std::string> env;
    for (auto& [name, value] : vars)
      env.push_back(name + "=" + value);
    for (char** e = environ; e && *e; ++e) {
      std::string_view entry = *e;
      auto name = entry.substr(0, entry.find('='));
      bool set = std::any_of(vars.begin(), vars.end(), [&](auto& v) { return v.first == name; });
      if (!set)
        env.emplace_back(entry);
    }
    return env;
  }

  // vfork + exec (start_child). Everything the child needs is prepared before: in a
  // multi-threaded process only async-signal-safe calls may run between fork and exec. An exec failure comes
  // back through a close-on-exec pipe. Returns the pid, or -1 with `error` set.
  pid_t spawn(const std::string& program, std::vector<std::string> argv,
              std::vector<std::string> env, const std::string& log_file, std::string& error) {
    std::vector<char*> cargv;
    for (auto& a : argv)
      cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<char*> cenv;
    for (auto& e : env)
      cenv.push_back(e.data());
    cenv.push_back(nullptr);

    const int log_fd =
      log_file.empty() ? -1 : ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (!log_file.empty() && log_fd < 0) {
      error = "open " + log_file + ": " + errno_text(errno);
      return -1;
    }
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      error = "pipe: " + errno_text(errno);
      if (log_fd >= 0)
        ::close(log_fd);
      if (null_fd >= 0)
        ::close(null_fd);
      return -1;
    }
    long max_fd = ::sysconf(_SC_OPEN_MAX);
    int fd_limit = static_cast<int>(std::clamp<long>(max_fd, 256, 65536));
    pid_t parent = ::getpid();

    // Signals stay blocked across fork so that no handler of the daemon runs in the child
    // before the child has reset them.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = start_child(child_plan{program.c_str(), cargv.data(), cenv.data(), null_fd, log_fd,
                                       pipe_fds[1], fd_limit, parent});
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(pipe_fds[1]);
    if (log_fd >= 0)
      ::close(log_fd);
    if (null_fd >= 0)
      ::close(null_fd);
    if (pid < 0) {
      ::close(pipe_fds[0]);
      error = "fork: " + errno_text(fork_errno);
      return -1;
    }
    ::setpgid(pid, pid);  // also from here, so the group exists whoever runs first
    int exec_errno = 0;
    ssize_t n;
    while ((n = ::read(pipe_fds[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
    ::close(pipe_fds[0]);
    if (n > 0) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
      error = "exec " + program + ": " + errno_text(exec_errno);
      return -1;
    }
    return pid;
  }

  // Terminates every child: SIGTERM to all, up to kill_grace for them to go, SIGKILL to the
  // rest; reaps all. Pending remove()s complete with ok; the watch hears nothing any more.
  void shutdown() {
    auto deadline = clock_type::now() + settings_.kill_grace;
    std::size_t running = 0;
    for (auto& [name, c] : children_)
      if (c.pid > 0) {
        ++running;
        signal_group(c.pid, settings_.kill_grace.count() > 0 ? SIGTERM : SIGKILL);
      }
    if (running > 0)
      log::info(component, "stopping " + std::to_string(running) + " instance(s)");
    for (;;) {
      reap_exited(false);
      bool any =
        std::any_of(children_.begin(), children_.end(), [](auto& kv) { return kv.second.pid > 0; });
      auto now = clock_type::now();
      if (!any || now >= deadline)
        break;
      std::optional<clock_type::duration> timeout = deadline - now;
      wait_for_events(timeout);
    }
    for (auto& [name, c] : children_)
      if (c.pid > 0) {
        log::warn(component, name + " (pid " + std::to_string(c.pid) +
                               ") still running after SIGTERM: SIGKILL");
        signal_group(c.pid, SIGKILL);
        int status = 0;
        while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {}
        c.pid = -1;
      }
    for (auto& [name, c] : children_) {
      if (c.pidfd >= 0)
        ::close(c.pidfd);
      c.pidfd = -1;
      for (auto& done : c.on_removed)
        complete(done, {driver_result::code::ok, "removed (driver stopped)"});
      c.on_removed.clear();
    }
    children_.clear();
    watch_ = nullptr;
  }

  const local_driver_settings settings_;
  int wake_fd_ = -1;

  std::mutex join_mu_;
  std::mutex mu_;
  bool stopping_ = false;
  std::deque<std::pair<task, task>> queue_;

  // Driver thread only.
  std::map<std::string, model::pod_template> templates_;
  std::map<std::string, std::string> template_errors_;
  std::map<std::string, child> children_;  // by pod name
  status_fn watch_;
  bool pidfd_warned_ = false;

  std::thread thread_;  // last: it starts in the constructor and uses everything above
};

}  // namespace

std::unique_ptr<instance_driver> make_local_process_driver(local_driver_settings settings) {
  return std::make_unique<local_process_driver>(std::move(settings));
}

}  // namespace iota::io
