"""t_seccomp.py - runs a command under a seccomp profile in the JSON format
of Docker and the OCI runtimes (examples/seccomp/ringprobe.json), loaded
with libseccomp as a container runtime loads it just before exec:

    python3 t_seccomp.py PROFILE [--drop NAME]... -- COMMAND [ARG]...

It reads defaultAction, defaultErrnoRet and each syscalls entry (names,
action, errnoRet, args with index/value/valueTwo/op), skips names this
architecture does not have (as runc does), and refuses what it does not
know (another action, includes/excludes). --drop NAME leaves NAME out of
every entry, as a profile without it would. Then it sets no_new_privs,
loads the filter and execs COMMAND. Exit 2 on a bad profile or usage.
Needs Debian's python3-seccomp (libseccomp's binding)."""
import json
import os
import sys

import seccomp

OPS = {"SCMP_CMP_NE": seccomp.NE, "SCMP_CMP_LT": seccomp.LT,
       "SCMP_CMP_LE": seccomp.LE, "SCMP_CMP_EQ": seccomp.EQ,
       "SCMP_CMP_GE": seccomp.GE, "SCMP_CMP_GT": seccomp.GT,
       "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ}


def die(msg):
    sys.stderr.write("t_seccomp.py: %s\n" % msg)
    sys.exit(2)


def action(name, errno):
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno)
    die("unknown action %s" % name)


def build(profile, drop):
    default_errno = profile.get("defaultErrnoRet", 1)
    f = seccomp.SyscallFilter(action(profile["defaultAction"], default_errno))
    for entry in profile["syscalls"]:
        for key in entry:
            if key not in ("names", "action", "errnoRet", "args", "comment"):
                die("unknown key %s" % key)
        act = action(entry["action"], entry.get("errnoRet", default_errno))
        args = []
        for a in entry.get("args", []):
            # Docker's MASKED_EQ: value is the mask, valueTwo the value,
            # in the order libseccomp's Arg takes them.
            args.append(seccomp.Arg(a["index"], OPS[a["op"]], a["value"],
                                    a.get("valueTwo", 0)))
        for name in entry["names"]:
            if name in drop:
                continue
            if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) < 0:
                continue
            f.add_rule(act, name, *args)
    return f


def main(argv):
    if "--" not in argv or argv.index("--") < 1:
        die("usage: t_seccomp.py PROFILE [--drop NAME]... -- COMMAND...")
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    drop = set()
    while len(opts) > 1 and opts[-2] == "--drop":
        drop.add(opts.pop())
        opts.pop()
    if len(opts) != 1 or not cmd:
        die("usage: t_seccomp.py PROFILE [--drop NAME]... -- COMMAND...")
    with open(opts[0]) as fp:
        f = build(json.load(fp), drop)
    f.load()
    os.execv(cmd[0], cmd)


main(sys.argv[1:])
