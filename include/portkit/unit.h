/* SPDX-License-Identifier: MIT */
/**
 * @file unit.h
 * @brief systemd unit files (services, sockets, templates, drop-ins) read into a
 *        plain C description a supervisor turns into child specs.
 *
 * Objects: `pk_unit` (one loaded unit: every key in a typed field, the
 * not-enforced list or a warning), `pk_unit_exec` (one Exec command line),
 * `pk_unit_host` (the values host specifiers such as `%H` expand to),
 * `pk_unit_tmpfiles` (tmpfiles.d configuration applied as systemd-tmpfiles does).
 *
 * The parser is sans-IO: pk_unit_parse() and pk_unit_parse_dropin() read a
 * buffer.  pk_unit_load() is the I/O layer on top: it searches unit
 * directories, follows aliases, detects masks, finds the template of an
 * instance and applies drop-ins in systemd's order.  Exec-time work stays
 * with the caller: pk_unit_environment() builds a service's environment
 * (reading its EnvironmentFile=s) and pk_unit_exec_expand() expands
 * `$VAR`/`${VAR}` in a command with it, as systemd does when it executes.
 *
 * Every string and vector hanging off a `struct pk_unit` belongs to the unit
 * and lives until pk_unit_free().  A vector's `v` is NULL when its `n` is 0;
 * otherwise string vectors are also NULL-terminated.  Time spans are in
 * milliseconds (rounded up), with PK_UNIT_INFINITY for "infinity".
 */
#ifndef PORTKIT_UNIT_H
#define PORTKIT_UNIT_H

#include <portkit/error.h>
#include <portkit/spawn.h>
#include <portkit/sup.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief "infinity" for time spans (ms) and resource limits. */
#define PK_UNIT_INFINITY UINT64_MAX

/** @brief Default limits on what a unit file may contain (peer-controlled input). */
#define PK_UNIT_DEFAULT_MAX_LINE ((size_t)64 << 10)
/** @brief Default maximum size of one unit or drop-in file. */
#define PK_UNIT_DEFAULT_MAX_FILE ((size_t)1 << 20)
/** @brief Default maximum number of assignments in one unit, drop-ins included. */
#define PK_UNIT_DEFAULT_MAX_KEYS 8192u
/** @brief Default maximum number of drop-in files applied to one unit. */
#define PK_UNIT_DEFAULT_MAX_DROPINS 256u

/** @brief Options flag: an unknown key or section is an error (PK_EUNITKEY), not a warning. */
#define PK_UNIT_STRICT 0x1u

/** @brief Where a parse or load failed. Filled on failure when the caller passes one. */
struct pk_unit_error {
        /** The negative code the call returned (as in every error struct). */
        int code;
        /** File being read ("" when none, e.g. a name that was not found anywhere). */
        char file[512];
        /** 1-based line, 0 when the error is not about one line. */
        unsigned int line;
        /** The key involved ("" when none). */
        char key[64];
        /** A human-readable sentence. */
        char message[256];
};

/**
 * @brief Values for host specifiers (%H %l %m %b %v %a %o %w %A %M %B %W %q).
 *
 * Any member may be NULL: a unit that uses its specifier is then refused with
 * a clear message.  Strings are borrowed for the duration of the call they are
 * passed to.  pk_unit_host_probe() fills one from the running system.
 */
struct pk_unit_host {
        const char *hostname;    /**< %H (and %l: up to the first dot) */
        const char *machine_id;  /**< %m (32 hex digits) */
        const char *boot_id;     /**< %b */
        const char *kernel;      /**< %v (uname -r) */
        const char *arch;        /**< %a (systemd's name: x86-64, arm64, ...) */
        const char *os_id;       /**< %o (os-release ID=) */
        const char *os_version;  /**< %w (VERSION_ID=) */
        const char *os_variant;  /**< %W (VARIANT_ID=) */
        const char *os_build;    /**< %B (BUILD_ID=) */
        const char *image_id;    /**< %M (IMAGE_ID=) */
        const char *image_ver;   /**< %A (IMAGE_VERSION=) */
        const char *pretty_host; /**< %q (PRETTY_HOSTNAME, else hostname) */
};

/** @brief Options for parsing and loading. A zeroed struct means the defaults. */
struct pk_unit_opts {
        /** PK_UNIT_STRICT or 0. */
        unsigned int flags;
        /** Longest line after continuations are joined (0: PK_UNIT_DEFAULT_MAX_LINE). */
        size_t max_line;
        /** Largest file (0: PK_UNIT_DEFAULT_MAX_FILE). */
        size_t max_file;
        /** Most assignments per unit (0: PK_UNIT_DEFAULT_MAX_KEYS). */
        unsigned int max_keys;
        /** Most drop-ins per unit (0: PK_UNIT_DEFAULT_MAX_DROPINS). */
        unsigned int max_dropins;
        /**
         * Search path for pk_unit_load(), highest priority first, NULL-terminated;
         * NULL means /etc/systemd/system, /run/systemd/system, /lib/systemd/system,
         * /usr/lib/systemd/system.  Borrowed for the call.
         */
        const char *const *dirs;
        /** Host specifier values; NULL makes host specifiers errors. Borrowed for the call. */
        const struct pk_unit_host *host;
};

/** @brief A NULL-terminated string vector (v is NULL when n is 0). */
struct pk_unit_strv {
        char **v;
        size_t n;
};

/** @brief Exec prefix `-`: a non-zero exit or a failure to execute is not a failure. */
#define PK_UNIT_EXEC_IGNORE_FAILURE 0x01u
/** @brief Exec prefix `+`: run with full privileges (no User=, Group=, capability drops). */
#define PK_UNIT_EXEC_PRIVILEGED 0x02u
/** @brief Exec prefix `!`: User=/Group= credentials are not applied by the manager. */
#define PK_UNIT_EXEC_NO_SETUID 0x04u
/** @brief Exec prefix `!!`: like `!` where ambient capabilities exist (Linux: same as `!`). */
#define PK_UNIT_EXEC_AMBIENT 0x08u
/** @brief Exec prefix `@`: argv[0] is the second word, not the path. */
#define PK_UNIT_EXEC_ARGV0 0x10u
/** @brief Exec prefix `:`: no `$VAR` expansion. */
#define PK_UNIT_EXEC_NO_EXPAND 0x20u

/** @brief One command of an Exec*= key, specifiers resolved, `$VAR` not yet expanded. */
struct pk_unit_exec {
        /** What to execute: absolute, or a bare name to look up in PATH at exec time. */
        char *path;
        /** argv (argv[0] is the path unless `@` gave another), NULL-terminated. */
        char **argv;
        /** Number of entries in argv (at least 1). */
        size_t argc;
        /** PK_UNIT_EXEC_* prefix flags. */
        unsigned int flags;
        /** Where the command was written (borrowed from the unit). */
        const char *file;
        /** Its line. */
        unsigned int line;
};

/** @brief The commands of one Exec*= key, in order. */
struct pk_unit_exec_list {
        struct pk_unit_exec *v;
        size_t n;
};

/** @brief A set of exit statuses (0..255) and signals (1..64), for *ExitStatus=. */
struct pk_unit_status_set {
        /** Bit s%8 of byte s/8 is set when exit status s is in the set. */
        uint8_t status[32];
        /** Bit (sig-1) is set when death by signal sig is in the set. */
        uint64_t signals;
};

/** @brief Service Type=. */
enum pk_unit_type {
        PK_UNIT_TYPE_SIMPLE = 0,
        PK_UNIT_TYPE_EXEC,
        PK_UNIT_TYPE_FORKING,
        PK_UNIT_TYPE_ONESHOT,
        PK_UNIT_TYPE_NOTIFY,
        PK_UNIT_TYPE_DBUS, /**< accepted; ready when started, as simple (no D-Bus here) */
        PK_UNIT_TYPE_IDLE  /**< as simple */
};

/** @brief Restart=. */
enum pk_unit_restart {
        PK_UNIT_RESTART_NO = 0,
        PK_UNIT_RESTART_ON_SUCCESS,
        PK_UNIT_RESTART_ON_FAILURE,
        PK_UNIT_RESTART_ON_ABNORMAL,
        PK_UNIT_RESTART_ON_WATCHDOG,
        PK_UNIT_RESTART_ON_ABORT,
        PK_UNIT_RESTART_ALWAYS
};

/** @brief KillMode=. */
enum pk_unit_kill_mode {
        PK_UNIT_KILL_CONTROL_GROUP = 0,
        PK_UNIT_KILL_MIXED,
        PK_UNIT_KILL_PROCESS,
        PK_UNIT_KILL_NONE
};

/** @brief NotifyAccess= (resolved: Type=notify without it gives MAIN). */
enum pk_unit_notify_access {
        PK_UNIT_NOTIFY_NONE = 0,
        PK_UNIT_NOTIFY_MAIN,
        PK_UNIT_NOTIFY_EXEC,
        PK_UNIT_NOTIFY_ALL
};

/** @brief Where a standard stream goes (StandardInput/Output/Error=). */
enum pk_unit_stdio_kind {
        PK_UNIT_STDIO_INHERIT = 0, /**< output/error: as the parent's; error default */
        PK_UNIT_STDIO_NULL,        /**< /dev/null; input default */
        PK_UNIT_STDIO_TTY,         /**< TTYPath= (tty, tty-force, tty-fail) */
        PK_UNIT_STDIO_JOURNAL,  /**< journal, syslog, kmsg (+console): the supervisor's log; output
                                   default */
        PK_UNIT_STDIO_FILE,     /**< file:PATH (output: open for writing, not truncated) */
        PK_UNIT_STDIO_APPEND,   /**< append:PATH */
        PK_UNIT_STDIO_TRUNCATE, /**< truncate:PATH */
        PK_UNIT_STDIO_SOCKET,   /**< the Accept=yes connection */
        PK_UNIT_STDIO_FD,       /**< fd:NAME, a socket unit's named descriptor */
        PK_UNIT_STDIO_DATA      /**< input only: StandardInputText=/Data= bytes */
};

/** @brief One standard stream. */
struct pk_unit_stdio {
        enum pk_unit_stdio_kind kind;
        /** Path for FILE/APPEND/TRUNCATE, name for FD, else NULL. */
        char *path;
};

/** @brief A resource limit: soft and hard, PK_UNIT_INFINITY for unlimited. */
struct pk_unit_rlimit {
        bool set;
        uint64_t soft;
        uint64_t hard;
};

/** @brief Number of Limit*= keys; the index into pk_unit_exec_ctx.limits is Linux's RLIMIT_*
 * number. */
#define PK_UNIT_NLIMITS 16

/** @brief EnvironmentFile= entry. */
struct pk_unit_env_file {
        char *path;
        /** `-` prefix: a missing file is not an error. */
        bool optional;
};

/** @brief One of the *Directory= families (RuntimeDirectory=, StateDirectory=, ...). */
struct pk_unit_dirs {
        /** Relative names under the family's base (/run, /var/lib, /var/cache, /var/log, /etc). */
        struct pk_unit_strv names;
        /** *DirectoryMode=, default 0755. */
        unsigned int mode;
};

/** @brief Index of each *Directory= family in pk_unit_exec_ctx.dirs. */
enum pk_unit_dir_kind {
        PK_UNIT_DIR_RUNTIME = 0,   /**< /run */
        PK_UNIT_DIR_STATE,         /**< /var/lib */
        PK_UNIT_DIR_CACHE,         /**< /var/cache */
        PK_UNIT_DIR_LOGS,          /**< /var/log */
        PK_UNIT_DIR_CONFIGURATION, /**< /etc */
        PK_UNIT_DIR_COUNT
};

/** @brief How a process is set up (systemd.exec(5)); shared by services and sockets. */
/* Fields follow systemd.exec(5)'s grouping, not size order: 32 bytes of padding buy a
 * struct that reads like the man page. */
struct pk_unit_exec_ctx { // NOLINT(clang-analyzer-optin.performance.Padding)
        char *user;       /**< User= (name or number) or NULL */
        char *group;      /**< Group= or NULL */
        struct pk_unit_strv supplementary_groups;
        bool dynamic_user; /**< DynamicUser= (the supervisor allocates a uid) */
        /** WorkingDirectory= path or NULL; "~" gives home=true and path NULL. */
        char *working_directory;
        bool working_directory_optional; /**< `-` prefix */
        bool working_directory_home;     /**< `~`: the user's home */
        char *root_directory;            /**< RootDirectory= or NULL */
        struct pk_unit_strv environment; /**< Environment= as KEY=VALUE, in order */
        struct {
                struct pk_unit_env_file *v;
                size_t n;
        } environment_files;                   /**< EnvironmentFile=, in order */
        struct pk_unit_strv pass_environment;  /**< PassEnvironment= names */
        struct pk_unit_strv unset_environment; /**< UnsetEnvironment= names or KEY=VALUE */
        int umask;                             /**< UMask=, default 0022 */
        bool nice_set;
        int nice; /**< Nice= (-20..19) */
        bool oom_score_adjust_set;
        int oom_score_adjust;   /**< OOMScoreAdjust= (-1000..1000) */
        int io_class;           /**< IOSchedulingClass= IOPRIO_CLASS_* (0 none..3 idle), -1 unset */
        int io_priority;        /**< IOSchedulingPriority= 0..7, -1 unset */
        int cpu_policy;         /**< CPUSchedulingPolicy= SCHED_* value, -1 unset */
        int cpu_priority;       /**< CPUSchedulingPriority=, -1 unset */
        bool cpu_reset_on_fork; /**< CPUSchedulingResetOnFork= */
        struct pk_unit_rlimit limits[PK_UNIT_NLIMITS]; /**< Limit*=, by RLIMIT_* */
        bool no_new_privileges;                        /**< NoNewPrivileges= */
        bool bounding_set_set;
        uint64_t capability_bounding_set; /**< CapabilityBoundingSet= (bit = CAP_* number) */
        uint64_t ambient_capabilities;    /**< AmbientCapabilities= */
        struct pk_unit_dirs dirs[PK_UNIT_DIR_COUNT]; /**< RuntimeDirectory= etc. */
        int runtime_directory_preserve;              /**< 0 no, 1 yes, 2 restart */
        struct pk_unit_stdio std_input, std_output, std_error;
        char *tty_path;          /**< TTYPath= or NULL */
        char *syslog_identifier; /**< SyslogIdentifier= or NULL */
        bool ignore_sigpipe;     /**< IgnoreSIGPIPE=, default true */
        /** StandardInputText=/Data= bytes (not NUL-terminated; NULL when none). */
        unsigned char *input_data;
        size_t input_data_len;
        /** ExecSearchPath= directories (absolute), in order: where a bare Exec*=
         *  name is looked up, and the PATH variable unless the unit sets PATH. */
        struct pk_unit_strv exec_search_path;
};

/** @brief systemd.kill(5). */
struct pk_unit_kill {
        enum pk_unit_kill_mode mode; /**< default control-group */
        int signal;                  /**< KillSignal=, default SIGTERM */
        int restart_signal;          /**< RestartKillSignal=, default = signal */
        int final_signal;            /**< FinalKillSignal=, default SIGKILL */
        int watchdog_signal;         /**< WatchdogSignal=, default SIGABRT */
        bool send_sigkill;           /**< SendSIGKILL=, default true */
        bool send_sighup;            /**< SendSIGHUP=, default false */
};

/** @brief [Service] (systemd.service(5)). */
struct pk_unit_service {
        enum pk_unit_type type;
        struct pk_unit_exec_list exec_condition, exec_start_pre, exec_start, exec_start_post,
            exec_reload, exec_stop, exec_stop_post;
        char *pid_file; /**< PIDFile= (relative names are under /run) or NULL */
        bool remain_after_exit;
        bool guess_main_pid; /**< default true */
        enum pk_unit_notify_access notify_access;
        char *bus_name; /**< BusName= or NULL */
        enum pk_unit_restart restart;
        uint64_t restart_ms;           /**< RestartSec=, default 100 */
        unsigned int restart_steps;    /**< RestartSteps= (0: no backoff) */
        uint64_t restart_max_delay_ms; /**< RestartMaxDelaySec=, default infinity */
        uint64_t timeout_start_ms;     /**< TimeoutStartSec=, default 90 s, 0 given = infinity */
        uint64_t timeout_stop_ms;      /**< TimeoutStopSec=, default 90 s */
        uint64_t timeout_abort_ms;     /**< TimeoutAbortSec=, default = stop */
        uint64_t runtime_max_ms;       /**< RuntimeMaxSec=, default infinity */
        uint64_t watchdog_ms;          /**< WatchdogSec=, 0 = off */
        struct pk_unit_status_set success_exit_status; /**< beyond 0 and the clean signals */
        struct pk_unit_status_set restart_prevent_exit_status;
        struct pk_unit_status_set restart_force_exit_status;
        struct pk_unit_strv sockets; /**< Sockets= */
        unsigned int fd_store_max;   /**< FileDescriptorStoreMax= */
        /** FileDescriptorStorePreserve=: 0 no, 1 yes, 2 restart (the default) */
        int fd_store_preserve;
        bool exit_type_cgroup; /**< ExitType=cgroup */
};

/** @brief Listen*= kind. */
enum pk_unit_listen_kind {
        PK_UNIT_LISTEN_STREAM = 0,
        PK_UNIT_LISTEN_DATAGRAM,
        PK_UNIT_LISTEN_SEQPACKET,
        PK_UNIT_LISTEN_FIFO
};

/** @brief What a Listen*= address is. */
enum pk_unit_addr_kind {
        PK_UNIT_ADDR_PATH = 0, /**< filesystem path (Unix socket or FIFO) */
        PK_UNIT_ADDR_ABSTRACT, /**< `@name`: Linux abstract Unix socket (path holds name without @)
                                */
        PK_UNIT_ADDR_PORT,     /**< a bare port: all addresses, IPv6 and IPv4 */
        PK_UNIT_ADDR_INET4,    /**< a.b.c.d:port */
        PK_UNIT_ADDR_INET6     /**< [v6]:port */
};

/** @brief One Listen*= line. */
struct pk_unit_listen {
        enum pk_unit_listen_kind kind;
        enum pk_unit_addr_kind addr;
        /** Path, abstract name, or the numeric IP address; NULL for a bare port. */
        char *path;
        /** IPv6 scope/interface after `%`, or NULL. */
        char *ifname;
        uint16_t port;
        /** Where the line was written (borrowed from the unit) and its line. */
        const char *file;
        unsigned int line;
};

/** @brief [Socket] (systemd.socket(5)). */
struct pk_unit_socket {
        struct {
                struct pk_unit_listen *v;
                size_t n;
        } listen;
        bool accept;                 /**< Accept= */
        char *fd_name;               /**< FileDescriptorName=, default the unit's name */
        char *user, *group;          /**< SocketUser=, SocketGroup= */
        unsigned int mode;           /**< SocketMode=, default 0666 */
        unsigned int directory_mode; /**< DirectoryMode=, default 0755 */
        char *service;        /**< Service=, default NAME.service (NAME@.service for Accept=yes) */
        unsigned int backlog; /**< Backlog=, default 4096 */
        int bind_ipv6_only;   /**< 0 default, 1 both, 2 ipv6-only */
        bool reuse_port, free_bind, keep_alive, no_delay, pass_credentials, remove_on_stop;
        bool writable;                        /**< Writable= (FIFOs) */
        uint64_t receive_buffer, send_buffer; /**< bytes, 0 = unset */
        unsigned int max_connections;         /**< MaxConnections=, default 64 */
        struct pk_unit_strv symlinks;         /**< Symlinks= */
        char *bind_to_device;                 /**< BindToDevice= or NULL */
        /** SocketProtocol=: 0 (the default: TCP for stream, UDP for datagram,
         *  SCTP for a sequential-packet socket on an IP address), IPPROTO_SCTP
         *  or IPPROTO_UDPLITE. */
        int protocol;
        struct pk_unit_exec_list exec_start_pre, exec_start_post, exec_stop_pre, exec_stop_post;
};

/** @brief Condition*= and Assert*= kinds; EVALUATED ones are checked by pk_unit_conditions_check().
 */
enum pk_unit_cond_kind {
        PK_UNIT_COND_PATH_EXISTS = 0,
        PK_UNIT_COND_PATH_EXISTS_GLOB,
        PK_UNIT_COND_PATH_IS_DIRECTORY,
        PK_UNIT_COND_PATH_IS_SYMLINK,
        PK_UNIT_COND_PATH_IS_MOUNT_POINT,
        PK_UNIT_COND_PATH_IS_READ_WRITE,
        PK_UNIT_COND_DIRECTORY_NOT_EMPTY,
        PK_UNIT_COND_FILE_NOT_EMPTY,
        PK_UNIT_COND_FILE_IS_EXECUTABLE,
        PK_UNIT_COND_ENVIRONMENT,
        PK_UNIT_COND_USER,
        PK_UNIT_COND_GROUP,
        PK_UNIT_COND_HOST,
        PK_UNIT_COND_KERNEL_COMMAND_LINE,
        PK_UNIT_COND_OTHER /**< recorded (and listed as not enforced); evaluates true */
};

/** @brief One Condition*= or Assert*=. */
struct pk_unit_condition {
        enum pk_unit_cond_kind kind;
        bool is_assert;   /**< Assert*= (failure fails the start) rather than Condition*= */
        bool trigger;     /**< `|` prefix: passes if any trigger condition passes */
        bool negate;      /**< `!` prefix */
        char *key;        /**< the key as written, e.g. "ConditionPathExists" */
        char *param;      /**< the argument, specifiers resolved */
        const char *file; /**< where it was set (borrowed from the unit) */
        unsigned int line;
};

/** @brief Dependencies, each a list of unit names (specifiers resolved). */
struct pk_unit_deps {
        struct pk_unit_strv after, before, requires_units, wants, binds_to, part_of, requisite,
            conflicts, on_failure, on_success, upholds, propagates_reload_to,
            reload_propagated_from, requires_mounts_for;
};

/** @brief [Install]. */
struct pk_unit_install {
        struct pk_unit_strv wanted_by, required_by, upheld_by, alias, also;
        char *default_instance;
};

/** @brief A recorded assignment: a not-enforced key, or a warning. */
struct pk_unit_note {
        const char *file;
        unsigned int line;
        const char *section;
        const char *key;
        const char *value;
        /** For warnings: why (e.g. "unknown key"); for not-enforced keys: NULL. */
        const char *message;
};

/** @brief What kind of unit. */
enum pk_unit_kind {
        PK_UNIT_KIND_SERVICE = 0,
        PK_UNIT_KIND_SOCKET,
        PK_UNIT_KIND_TARGET,
        PK_UNIT_KIND_OTHER /**< timer, path, mount...: [Unit] and [Install] only */
};

/** @brief A loaded unit.  Everything here is owned by the unit (see pk_unit_free()). */
struct pk_unit {
        char *name;                  /**< its id, e.g. "postgresql@15-main.service" */
        struct pk_unit_strv aliases; /**< other names it was found under (symlinks) */
        char *template_name;         /**< "postgresql@.service" for an instance, else NULL */
        char *instance;              /**< "15-main" (escaped form), else NULL */
        enum pk_unit_kind kind;
        char *fragment_path; /**< the main file, or NULL when parsed from a buffer without a path */
        struct pk_unit_strv dropin_paths; /**< applied drop-ins, in order */

        /* [Unit] */
        char *description;
        struct pk_unit_strv documentation;
        struct pk_unit_deps deps;
        struct {
                struct pk_unit_condition *v;
                size_t n;
        } conditions;              /**< Condition*= and Assert*=, in order */
        bool default_dependencies; /**< default true */
        bool refuse_manual_start, refuse_manual_stop, stop_when_unneeded, allow_isolate;
        uint64_t start_limit_interval_ms; /**< default 10 s */
        unsigned int start_limit_burst;   /**< default 5 */

        struct pk_unit_service service; /**< meaningful for PK_UNIT_KIND_SERVICE */
        struct pk_unit_socket socket;   /**< meaningful for PK_UNIT_KIND_SOCKET */
        struct pk_unit_exec_ctx exec;   /**< services and sockets */
        struct pk_unit_kill kill;       /**< services and sockets */
        struct pk_unit_install install;

        /** Keys accepted but not enforced (sandboxing and the like). */
        struct {
                struct pk_unit_note *v;
                size_t n;
        } not_enforced;
        /** Unknown keys/sections and other warnings (in strict mode these are errors). */
        struct {
                struct pk_unit_note *v;
                size_t n;
        } warnings;
};

/**
 * @brief Parses one unit file from a buffer (sans-IO).
 * @param name the unit name, e.g. "nginx.service" or "foo@bar.service" (an
 *        instance: specifiers %i/%I expand to "bar"); decides the unit kind.
 * @param path the file name used in messages and for %y/%Y; may be NULL.
 * @param buf the file's bytes (need not be NUL-terminated); borrowed for the call.
 * @param len its length.
 * @param opts options, or NULL for the defaults.
 * @param[out] ret_unit the unit; caller owns it, free with pk_unit_free().
 *             Call pk_unit_finish() after adding drop-ins.
 * @param[out] reterr where it failed; may be NULL.
 * @return 0; -EINVAL (bad name or NULL argument); -ENOMEM; PK_EUNITSYNTAX, PK_EUNITVALUE,
 *         PK_EUNITKEY (strict), PK_EUNITLIMIT, PK_EUNITSPEC with reterr filled.
 */
PK_API int pk_unit_parse(const char *name, const char *path, const char *buf, size_t len,
                         const struct pk_unit_opts *opts, struct pk_unit **ret_unit,
                         struct pk_unit_error *reterr);

/**
 * @brief Applies a drop-in file's assignments on top of the unit (sans-IO).
 * @param u the unit from pk_unit_parse().
 * @param path the drop-in's file name, for messages; may be NULL.
 * @param buf its bytes; borrowed for the call.
 * @param len their length.
 * @param opts as for pk_unit_parse() (NULL: defaults).
 * @param[out] reterr where it failed; may be NULL.
 * @return 0 or an error as pk_unit_parse(); on error the unit may hold part of the drop-in.
 */
PK_API int pk_unit_parse_dropin(struct pk_unit *u, const char *path, const char *buf, size_t len,
                                const struct pk_unit_opts *opts, struct pk_unit_error *reterr);

/**
 * @brief Resolves defaults that depend on several keys and checks the unit is whole.
 *
 * Type= defaults (simple, or oneshot without ExecStart=), NotifyAccess= for notify,
 * a service without ExecStart= (refused unless oneshot with ExecStop=), several
 * ExecStart= for a non-oneshot, PIDFile= for forking, a socket's Service=.
 * pk_unit_load() calls it; after pk_unit_parse() the caller does.
 * @param u the unit.
 * @param[out] reterr where it failed; may be NULL.
 * @return 0 or PK_EUNITVALUE.
 */
PK_API int pk_unit_finish(struct pk_unit *u, struct pk_unit_error *reterr);

/**
 * @brief Finds a unit in the search path, follows aliases, reads it and its drop-ins.
 *
 * Looks for NAME in each directory (first wins); for an instance "foo@bar.service"
 * without its own file, the template "foo@.service".  A symlink to /dev/null, or an
 * empty file, is a mask (a masked template masks its instances).  A symlink to another unit file is
 * an alias: the unit takes the target's name.  Drop-ins are read from NAME.d/,
 * the template's, the alias's, each dash-prefix's ("a-b-.service.d/", "a-.service.d/")
 * and the type's ("service.d/") directories in every search directory; *.conf only,
 * sorted by file name; for one file name, the first directory in the search path and
 * then the most specific unit name wins; a drop-in linked to /dev/null is skipped.
 * @param name the unit's name.
 * @param opts options (search path, host, limits) or NULL.
 * @param[out] ret_unit the unit, finished; caller frees with pk_unit_free().
 * @param[out] reterr where it failed; may be NULL.
 * @return 0; -ENOENT (no such unit); PK_EUNITMASKED; -EINVAL (bad name); PK_EUNITLIMIT
 *         (file or drop-in count); an I/O errno; or a parse error.
 */
PK_API int pk_unit_load(const char *name, const struct pk_unit_opts *opts,
                        struct pk_unit **ret_unit, struct pk_unit_error *reterr);

/**
 * @brief Frees a unit and everything it owns.
 * @param u a unit or NULL.
 * @return NULL.
 */
PK_API struct pk_unit *pk_unit_free(struct pk_unit *u);

/**
 * @brief Fills host specifier values from this machine (uname, /etc/machine-id,
 *        /proc/sys/kernel/random/boot_id, /etc/os-release).
 * @param[out] ret_host filled; its strings point into buf.
 * @param buf storage for the strings.
 * @param size its size (4096 is plenty).
 * @return 0 (values the machine lacks stay NULL) or -EINVAL, -ENOBUFS.
 */
PK_API int pk_unit_host_probe(struct pk_unit_host *ret_host, char *buf, size_t size);

/**
 * @brief Builds a service's environment as systemd does at exec time.
 *
 * Result: base, then PassEnvironment= names taken from manager_env, then
 * Environment=, then each EnvironmentFile= (read now; later settings win),
 * minus UnsetEnvironment=.
 * @param u the unit.
 * @param base variables the supervisor sets (PATH, HOME, USER, MAINPID, LISTEN_FDS...),
 *        NULL-terminated KEY=VALUE; may be NULL.
 * @param manager_env the supervisor's own environment for PassEnvironment=; may be NULL.
 * @param[out] ret_env NULL-terminated KEY=VALUE vector; caller frees with pk_unit_strv_free().
 * @param[out] reterr the environment file that failed; may be NULL.
 * @return 0; -ENOENT for a missing non-optional file; PK_EUNITLIMIT for a file over
 *         max_file; -ENOMEM.
 */
PK_API int pk_unit_environment(const struct pk_unit *u, const char *const *base,
                               const char *const *manager_env, char ***ret_env,
                               struct pk_unit_error *reterr);

/**
 * @brief Parses an environment file (KEY=VALUE lines, quotes, comments) sans-IO.
 * @param buf the file's bytes; borrowed.
 * @param len their length.
 * @param[out] ret_env NULL-terminated KEY=VALUE vector; caller frees with pk_unit_strv_free().
 * @return 0, -ENOMEM or -EINVAL (NUL byte).
 */
PK_API int pk_unit_env_parse(const char *buf, size_t len, char ***ret_env);

/**
 * @brief Expands `$VAR` (a whole word: split at whitespace into 0..n words) and
 *        `${VAR}` (anywhere: exactly one word) in a command, and `$$` to `$`.
 * @param e the command (its PK_UNIT_EXEC_NO_EXPAND flag turns expansion off).
 * @param env KEY=VALUE vector, NULL-terminated; may be NULL (all unset).
 * @param[out] ret_argv the argv; caller frees with pk_unit_strv_free().  argv[0]
 *             is e->argv[0] expanded.
 * @return 0, -ENOMEM, or -E2BIG when the result exceeds 1 MiB.
 */
PK_API int pk_unit_exec_expand(const struct pk_unit_exec *e, const char *const *env,
                               char ***ret_argv);

/**
 * @brief Frees a vector from pk_unit_environment() or pk_unit_exec_expand().
 * @param v vector or NULL.
 * @return NULL.
 */
PK_API char **pk_unit_strv_free(char **v);

/**
 * @brief Evaluates the unit's Condition*= and Assert*= against this machine.
 * @param u the unit.
 * @param env environment for ConditionEnvironment= (NULL-terminated); NULL: none set.
 * @param[out] ret_failed the first failing condition (borrowed from u), or NULL; may be NULL.
 * @return 1 all pass; 0 a Condition failed (the unit is skipped, not failed);
 *         PK_EUNITASSERT an Assert failed (the start fails).
 */
PK_API int pk_unit_conditions_check(const struct pk_unit *u, const char *const *env,
                                    const struct pk_unit_condition **ret_failed);

/**
 * @brief Parses a systemd time span ("1min 30s", "2h", "500ms", "infinity", "5").
 * @param s the text; a bare number is seconds.
 * @param[out] ret_usec microseconds, UINT64_MAX for infinity.
 * @return 0 or -EINVAL / -ERANGE.
 */
PK_API int pk_unit_timespan_parse(const char *s, uint64_t *ret_usec);

/**
 * @brief Parses a signal name or number ("SIGTERM", "TERM", "15", "SIGRTMIN+2").
 * @param s the text.
 * @return the signal number (1..64) or -EINVAL.
 */
PK_API int pk_unit_signal_parse(const char *s);

/**
 * @brief Tells whether an exit status set holds a code or signal.
 * @param set the set.
 * @param code exit status 0..255 when sig is 0.
 * @param sig the killing signal, or 0.
 * @return true if present.
 */
PK_API bool pk_unit_status_has(const struct pk_unit_status_set *set, int code, int sig);

/**
 * @brief Unescapes a unit name part as systemd-escape does ("-" to "/", "\x2d" to "-").
 * @param s the escaped text.
 * @param[out] ret the result; caller frees with free().
 * @return 0, -EINVAL or -ENOMEM.
 */
PK_API int pk_unit_name_unescape(const char *s, char **ret);

/* ======================================================================================== */
/* A unit as a supervisor child (src/unit/child.c; branch `supervise`).                     */
/* ======================================================================================== */

/**
 * @brief Options of pk_unit_to_child(); zero-initialise.
 *
 * The helper is a program that speaks the unit-exec argument protocol of
 * docs/supervise.md ("The unit-exec helper"): it runs ExecStartPre= commands,
 * the ExecStart= of Type=oneshot (several, in order; RemainAfterExit=) and
 * Type=forking (waits for PIDFile=, then stands in for the daemon), and reports
 * readiness on a notification fd.  `portkit unit-exec` is one.
 */
struct pk_unit_child_opts {
        /** argv prefix of the helper, NULL-terminated (borrowed for the call), e.g.
         *  {"/usr/bin/portkit", "unit-exec", NULL}; NULL: units that need it fail
         *  with -EOPNOTSUPP. */
        const char *const *helper;
        /** Directory for StandardOutput=journal/syslog/kmsg (spec.log_dir); NULL:
         *  the supervisor's own stdout/stderr. */
        const char *log_dir;
        /** The supervisor's environment, for PassEnvironment= (NULL: none). */
        const char *const *manager_env;
        /** Prefix of the *Directory= bases (/run, /var/lib, ...) for tests; NULL: none. */
        const char *dir_root;
        /** 1: create RuntimeDirectory= and friends now, owned by User=/Group=,
         *  with their *DirectoryMode=. */
        int create_dirs;
};

/**
 * @brief A unit turned into what pk_sup_add() takes.  Everything belongs to the
 *        object and lives until pk_unit_child_free().
 */
struct pk_unit_child {
        /** The spec: id is the unit's name; dependency lists name units, every
         *  one the unit names (pk_sup_add() takes at most PK_SUP_MAX_DEPS a
         *  list: keep the units that run, as `portkit supervise` does). */
        struct pk_sup_child_spec spec;
        /** The main command; owned.  pk_sup_add() takes it: set this to NULL then. */
        struct pk_cmd *cmd;
        /** The service environment (NULL-terminated KEY=VALUE). */
        char **env;
        /** One sentence per thing the unit asks for that is not enforced. */
        struct pk_unit_strv notes;
};

/**
 * @brief Turns a loaded service unit into a supervisor child spec and command.
 *
 * Maps Type=, Exec*= (through the helper where needed), Restart=,
 * SuccessExitStatus=, KillSignal=/SendSIGKILL=/TimeoutStopSec=, the exec
 * context (User=, Group=, Environment*=, WorkingDirectory=, UMask=, Nice=,
 * OOMScoreAdjust=, Limit*=, scheduling, capabilities, NoNewPrivileges=,
 * ExecSearchPath=), StandardInput= (data: a fresh sealed memfd per spawn;
 * file:), StandardOutput=/StandardError= and the dependencies.  What it cannot
 * enforce goes to (*ret)->notes, together with the unit's own not-enforced list.
 * @param u a service unit (borrowed for the call).
 * @param opts options or NULL.
 * @param[out] ret caller owns; free with pk_unit_child_free().  Not written on failure.
 * @param[out] reterr where it failed (an environment file, a user); may be NULL.
 * @return 0; -EINVAL (not a service); -EOPNOTSUPP (needs the helper, none given);
 *         -ENOENT (an environment file); PK_ENOUSER / PK_ENOGROUP; -ENOMEM; an errno
 *         of creating a directory.
 */
PK_API int pk_unit_to_child(const struct pk_unit *u, const struct pk_unit_child_opts *opts,
                            struct pk_unit_child **ret, struct pk_unit_error *reterr);

/**
 * @brief Builds the command for one Exec line of @p u with the unit's exec
 *        context applied (the `+` prefix skips credentials, `!` skips User=/Group=;
 *        StandardInput=, ExecSearchPath= as pk_unit_to_child()), `$VAR` expanded
 *        with @p env.
 * @param env NULL-terminated KEY=VALUE (borrowed), also the command's environment.
 * @param[out] ret caller owns; free with pk_cmd_free().
 * @return 0, -ENOMEM, -E2BIG, PK_ENOUSER, PK_ENOGROUP, -EINVAL.
 */
PK_API int pk_unit_exec_cmd(const struct pk_unit *u, const struct pk_unit_exec *e,
                            const char *const *env, struct pk_cmd **ret);

/** @brief Frees a pk_unit_child (NULL accepted). @return NULL. */
PK_API struct pk_unit_child *pk_unit_child_free(struct pk_unit_child *c);

/* ======================================================================================== */
/* end of the unit-as-child section                                                          */
/* ======================================================================================== */

/* ======================================================================================== */
/* tmpfiles.d (src/unit/tmpfiles.c; branch `tmpfiles`).                                     */
/* ======================================================================================== */

/** @brief tmpfiles flag: apply lines marked `!` (boot-only), as `systemd-tmpfiles --boot`. */
#define PK_UNIT_TMPFILES_BOOT 0x1u
/** @brief tmpfiles flag: r/R lines and D contents are removed, as `--remove`. */
#define PK_UNIT_TMPFILES_REMOVE 0x2u
/** @brief tmpfiles flag: unknown line types and syntax errors are errors, not warnings. */
#define PK_UNIT_TMPFILES_STRICT 0x4u
/** @brief tmpfiles flag: parse and resolve every line (users, specifiers) but touch nothing. */
#define PK_UNIT_TMPFILES_DRY_RUN 0x8u

/** @brief What a tmpfiles note is about. */
enum pk_unit_tmpfiles_kind {
        /** A line that was skipped: syntax, unknown type, duplicate path, an ignored (`-`)
         *  failure. */
        PK_UNIT_TMPFILES_WARNING = 0,
        /** A line that failed (missing user, a refused mkdir...): counted in errors. */
        PK_UNIT_TMPFILES_ERROR,
        /** A line whose type is understood but not enforced (h/H, a/A, t/T). */
        PK_UNIT_TMPFILES_NOT_ENFORCED
};

/** @brief One note from pk_unit_tmpfiles_apply(); every pointer is borrowed for the callback. */
struct pk_unit_tmpfiles_note {
        /** PK_UNIT_TMPFILES_*. */
        enum pk_unit_tmpfiles_kind kind;
        /** The configuration file (as found, under the root). */
        const char *file;
        /** Its 1-based line. */
        unsigned int line;
        /** The line's type with its modifiers ("d", "f+!"), or "" when it could not be read. */
        const char *type;
        /** The path after specifiers (without the root), or NULL. */
        const char *path;
        /** A negative code (PK_EUNITSYNTAX, PK_ENOUSER, -EACCES...) or 0. */
        int code;
        /** A sentence. */
        const char *message;
};

/** @brief Options of pk_unit_tmpfiles_apply(); a zeroed struct means the defaults. */
struct pk_unit_tmpfiles_opts {
        /** PK_UNIT_TMPFILES_* flags. */
        unsigned int flags;
        /**
         * Configuration directories, highest priority first, NULL-terminated; a file
         * overrides same-named files in later directories.  NULL: /etc/tmpfiles.d,
         * /run/tmpfiles.d, /usr/local/lib/tmpfiles.d, /usr/lib/tmpfiles.d.  Looked
         * up under root.  Borrowed for the call.
         */
        const char *const *dirs;
        /** A directory every path (configuration and lines) is taken under; NULL or "/": none. */
        const char *root;
        /** Host specifier values (%m %b %H %l %v %a %o %w %W %B %M %A); NULL: those are errors. */
        const struct pk_unit_host *host;
        /** Largest configuration file (0: 1 MiB). */
        size_t max_file;
        /** Most lines over all files (0: 65536). */
        unsigned int max_lines;
        /** Called for each warning, error and not-enforced line; may be NULL. */
        void (*note)(void *ud, const struct pk_unit_tmpfiles_note *n);
        /** Passed to note. */
        void *ud;
};

/** @brief What pk_unit_tmpfiles_apply() did. */
struct pk_unit_tmpfiles_stats {
        /** Configuration files read (after overrides). */
        unsigned int files;
        /** Lines that were not blank or comments. */
        unsigned int lines;
        /** Lines carried out (including those with nothing to do, such as `w` on a missing file).
         */
        unsigned int applied;
        /** Lines left out by design: `!` without BOOT, r/R without REMOVE, x/X (cleaning
         *  only), a credential (`^`) that is not set, a later duplicate of a path. */
        unsigned int skipped;
        /** Warnings noted. */
        unsigned int warnings;
        /** Errors noted. */
        unsigned int errors;
        /** Lines with an age, which only cleaning uses (no cleaning is done here). */
        unsigned int aged;
        /** Not-enforced line types seen, each letter once, NUL-terminated ("ah"). */
        char not_enforced[16];
};

/**
 * @brief Applies tmpfiles.d configuration as `systemd-tmpfiles --create` does
 *        (with `--boot` and `--remove` by flag).
 *
 * Reads the *.conf files of every directory (a same-named file in a higher
 * directory wins; a link to /dev/null masks), sorted by file name across
 * directories, expands specifiers and applies the lines in order: d D v q Q e
 * f f+ w w+ p p+ L L+ c c+ b b+ C z Z r R (x X skipped), with the `!`, `-`,
 * `=`, `+`, `~` (base64) and `^` (credential: never set here) modifiers and
 * `:`/`~` mode prefixes.  Ages are parsed, never applied.  Every line that is
 * skipped or fails is noted with its file and line; the apply goes on.
 * @param opts options or NULL.
 * @param[out] ret_stats filled (also on failure); may be NULL.
 * @return 0; the first error's code when a line failed (a warning is not a
 *         failure unless PK_UNIT_TMPFILES_STRICT); -ENOMEM; PK_EUNITLIMIT.
 */
PK_API int pk_unit_tmpfiles_apply(const struct pk_unit_tmpfiles_opts *opts,
                                  struct pk_unit_tmpfiles_stats *ret_stats);

/**
 * @brief Applies one configuration file's text (sans-IO with PK_UNIT_TMPFILES_DRY_RUN).
 * @param buf the text; borrowed.
 * @param len its length.
 * @param file the name notes carry (e.g. "/etc/tmpfiles.d/x.conf").
 * @param opts options or NULL (dirs is not used).
 * @param[out] ret_stats filled; may be NULL.
 * @return as pk_unit_tmpfiles_apply().
 */
PK_API int pk_unit_tmpfiles_apply_buf(const char *buf, size_t len, const char *file,
                                      const struct pk_unit_tmpfiles_opts *opts,
                                      struct pk_unit_tmpfiles_stats *ret_stats);

#ifdef __cplusplus
}
#endif
#endif
