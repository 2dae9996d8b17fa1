"""Runs a command under the seccomp part of a systemd unit's sandbox, as
systemd 252 builds it, so a test can see the binary work inside it without a
running systemd (systemd-analyze verify only reads the file).

    unit_sandbox.py UNIT_FILE -- COMMAND [ARG...]

From UNIT_FILE's [Service] section it applies, in systemd's way:
- NoNewPrivileges= (libseccomp sets it anyway),
- SystemCallFilter= (an allow list, with later ~ lines taking groups away;
  groups expanded by `systemd-analyze syscall-filter`) and
  SystemCallErrorNumber= (the errno refused calls get; unset: the process is
  killed),
- MemoryDenyWriteExecute=yes (a second filter: mmap with PROT_WRITE and
  PROT_EXEC, mprotect and pkey_mprotect adding PROT_EXEC, shmat with
  SHM_EXEC get EPERM),
- RestrictAddressFamilies= (an allow list: socket() with another family gets
  EAFNOSUPPORT),
then replaces itself with COMMAND. It applies nothing else (namespaces, file
system protections, capabilities) and says so on stderr. Uses libseccomp
through ctypes, so it needs nothing but Python and libseccomp2.
"""
import ctypes
import ctypes.util
import errno
import os
import socket
import subprocess
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_CMP_LT, SCMP_CMP_EQ, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ = 2, 4, 6, 7
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000


def scmp_act_errno(code):
    return 0x00050000 | (code & 0xFFFF)


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def service_settings(path):
    """The [Service] section's assignments, in order, as (key, value)."""
    settings, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                settings.append((key.strip(), value.strip()))
    return settings


def expand(item, seen=None):
    """A syscall group (@name) as syscall names, as this systemd defines it."""
    if not item.startswith("@"):
        return {item}
    seen = seen if seen is not None else set()
    if item in seen:
        return set()
    seen.add(item)
    out = subprocess.run(["systemd-analyze", "syscall-filter", item], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        names |= expand(word, seen)
    return names


def allowed_syscalls(settings):
    """SystemCallFilter= as systemd reads it: the first line decides allow or
    deny list; in an allow list, a ~ line takes its calls away."""
    allow = None
    for key, value in settings:
        if key != "SystemCallFilter":
            continue
        deny = value.startswith("~")
        items = value.lstrip("~").split()
        names = set().union(*(expand(i) for i in items)) if items else set()
        if allow is None:
            if deny:
                sys.exit("unit_sandbox.py: a deny-list SystemCallFilter= is not supported here")
            allow = names
        elif deny:
            allow -= names
        else:
            allow |= names
    return allow


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    unit, command = sys.argv[1], sys.argv[3:]
    settings = service_settings(unit)
    values = dict(settings)
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]

    def load(default_action, rules):
        ctx = lib.seccomp_init(default_action)
        if not ctx:
            sys.exit("unit_sandbox.py: seccomp_init failed")
        for name, action, cmps in rules:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                continue  # not a call of this architecture (or a pseudo-call)
            array = (ArgCmp * max(len(cmps), 1))(*cmps)
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
            if rc < 0:
                sys.exit(f"unit_sandbox.py: cannot add a rule for {name}: {os.strerror(-rc)}")
        rc = lib.seccomp_load(ctx)
        lib.seccomp_release(ctx)
        if rc < 0:
            sys.exit(f"unit_sandbox.py: seccomp_load failed: {os.strerror(-rc)}")

    applied = []
    if values.get("NoNewPrivileges") == "yes":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            sys.exit("unit_sandbox.py: PR_SET_NO_NEW_PRIVS failed")
        applied.append("NoNewPrivileges")

    families = values.get("RestrictAddressFamilies")
    if families:
        # As systemd does it: below the first family, above the last, and
        # every gap between them is refused (one comparison per rule).
        refuse = scmp_act_errno(errno.EAFNOSUPPORT)
        allowed = sorted(int(getattr(socket, f)) for f in families.split())
        rules = [("socket", refuse, [ArgCmp(0, SCMP_CMP_LT, allowed[0], 0)])]
        rules.append(("socket", refuse, [ArgCmp(0, SCMP_CMP_GT, allowed[-1], 0)]))
        for family in range(allowed[0], allowed[-1]):
            if family not in allowed:
                rules.append(("socket", refuse, [ArgCmp(0, SCMP_CMP_EQ, family, 0)]))
        load(SCMP_ACT_ALLOW, rules)
        applied.append("RestrictAddressFamilies")

    if values.get("MemoryDenyWriteExecute") == "yes":
        eperm = scmp_act_errno(errno.EPERM)
        wx = PROT_WRITE | PROT_EXEC
        load(
            SCMP_ACT_ALLOW,
            [
                ("mmap", eperm, [ArgCmp(2, SCMP_CMP_MASKED_EQ, wx, wx)]),
                ("mprotect", eperm, [ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
                ("pkey_mprotect", eperm, [ArgCmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)]),
                ("shmat", eperm, [ArgCmp(2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC)]),
            ],
        )
        applied.append("MemoryDenyWriteExecute")

    allow = allowed_syscalls(settings)
    if allow is not None:
        number = values.get("SystemCallErrorNumber")
        refuse = scmp_act_errno(getattr(errno, number)) if number else SCMP_ACT_KILL_PROCESS
        load(refuse, [(name, SCMP_ACT_ALLOW, []) for name in sorted(allow)])
        applied.append(f"SystemCallFilter ({len(allow)} calls)")

    print(f"unit_sandbox.py: applied {', '.join(applied) or 'nothing'}; not the rest of the unit", file=sys.stderr)
    sys.stderr.flush()
    os.execvp(command[0], command)


main()
