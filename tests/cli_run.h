// Running the hwnas binary from a test: start it (in the background when a
// test must kill it), wait, and read what it wrote. Header-only, in its own
// namespace; the older CLI suites still carry private copies of bin()/run()
// that are meant to move into the shared test helpers.
#ifndef HWNAS_TESTS_CLI_RUN_H
#define HWNAS_TESTS_CLI_RUN_H

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cli {

inline std::string bin() {
    const char* b = std::getenv("HWNAS_BIN");
    return b ? b : "build/hwnas";
}

struct Result {
    int code;  // exit status; 128 + N when killed by signal N; -1 when it could not run
    std::string out, err;
};

// The lines of a text, without their newlines.
inline std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

struct Spawn {
    std::string env;       // VAR=value ... put before the command
    long fsize_limit = 0;  // > 0: RLIMIT_FSIZE in bytes with SIGXFSZ ignored (writes past it fail with EFBIG)
    uid_t as_user = 0;     // > 0 and running as root: the child drops to this uid/gid first
};

// Starts `hwnas ARGS` in the background, stdout and stderr to LOG.out and
// LOG.err; returns the pid (the shell execs hwnas, so it is hwnas's pid).
inline pid_t start(const std::string& args, const std::string& log, const Spawn& opt = Spawn()) {
    std::string cmd = opt.env + " exec " + bin() + " " + args + " >" + log + ".out 2>" + log + ".err";
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (opt.fsize_limit > 0) {
        struct rlimit lim = {(rlim_t)opt.fsize_limit, (rlim_t)opt.fsize_limit};
        signal(SIGXFSZ, SIG_IGN);  // ignored signals stay ignored across exec
        setrlimit(RLIMIT_FSIZE, &lim);
    }
    if (opt.as_user > 0 && geteuid() == 0 && (setgid(opt.as_user) != 0 || setuid(opt.as_user) != 0)) _exit(126);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
    _exit(127);
}

inline int wait_code(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

// Runs `hwnas ARGS` to the end; LOG.out and LOG.err keep its output.
inline Result run(const std::string& args, const std::string& log, const Spawn& opt = Spawn()) {
    pid_t pid = start(args, log, opt);
    if (pid < 0) return {-1, "", "fork failed"};
    int code = wait_code(pid);
    return {code, slurp(log + ".out"), slurp(log + ".err")};
}

// The first `n` comma-separated columns of every line of a CSV (a training
// log's step, epoch, lr, loss and top-1 with n = 5: the columns two runs
// share, unlike the timing ones).
inline std::string leading_columns(const std::string& csv, int n = 5) {
    std::stringstream in(csv), out;
    std::string line;
    while (std::getline(in, line)) {
        size_t at = 0;
        for (int c = 0; c < n && at != std::string::npos; c++) at = line.find(',', at + 1);
        out << line.substr(0, at) << "\n";
    }
    return out.str();
}

}  // namespace cli

#endif
