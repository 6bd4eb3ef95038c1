"""Run a command under the kernel-enforced parts of a systemd unit's sandbox, without systemd.

    python systemd_sandbox.py UNIT_FILE -- COMMAND [ARG...]

Tests cannot start units (no systemd as PID 1 in the test environment), but the
directives that could break the program are enforced by the kernel and can be
applied here exactly as systemd 252 (Debian 12) applies them, read from the
unit's [Service] section:

- NoNewPrivileges=           prctl(PR_SET_NO_NEW_PRIVS)
- CapabilityBoundingSet=     prctl(PR_CAPBSET_DROP) of every other capability
- SystemCallFilter=, SystemCallErrorNumber=, SystemCallArchitectures=native
                             a seccomp filter over the syscall groups systemd-analyze lists
- MemoryDenyWriteExecute=    seccomp: no mmap with PROT_WRITE|PROT_EXEC, no mprotect/pkey_mprotect
                             with PROT_EXEC, no shmat with SHM_EXEC (systemd 252's own rules)
- RestrictAddressFamilies=   seccomp: socket() of another family fails with EAFNOSUPPORT

Mount and namespace directives (ProtectSystem=, PrivateTmp=, ...) need systemd and are not applied.
x86_64 only (the syscall numbers come from the kernel headers).
"""

from __future__ import annotations

import ctypes
import errno
import os
import pathlib
import re
import struct
import subprocess
import sys

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
ADDRESS_FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}
CAPABILITIES = {"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13}
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 24, 38, 22, 2


def service_directives(unit: str) -> dict[str, list[str]]:
    """Every assignment of the [Service] section, in order, by key (systemd units may repeat keys)."""
    directives: dict[str, list[str]] = {}
    section = None
    for line in pathlib.Path(unit).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            directives.setdefault(key.strip(), []).append(value.strip())
    return directives


def _syscall_numbers() -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"#define __NR_(\w+) (\d+)", pathlib.Path(UNISTD).read_text())}


def _group(name: str, seen: set[str]) -> set[str]:
    """A systemd syscall group (@system-service ...) expanded to syscall names, as systemd-analyze lists it."""
    if not name.startswith("@"):
        return {name}
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True)
    names: set[str] = set()
    for line in out.stdout.splitlines()[1:]:
        entry = line.strip()
        if entry and not entry.startswith("#") and entry not in seen:
            seen.add(entry)
            names |= _group(entry, seen)
    return names


def allowed_syscalls(filters: list[str]) -> set[str]:
    """SystemCallFilter= lines: the first makes an allow list (or a deny list with ~); later ones add or remove."""
    allowed: set[str] = set()
    for value in filters:
        deny = value.startswith("~")
        names = set().union(*(_group(n, set()) for n in value.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed


def _instruction(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


LD_W_ABS, JEQ_K, JSET_K, RET_K, AND_K = 0x20, 0x15, 0x45, 0x06, 0x54


def build_filter(directives: dict[str, list[str]]) -> list[bytes]:
    numbers = _syscall_numbers()
    error = RET_ERRNO | getattr(errno, (directives.get("SystemCallErrorNumber") or ["EPERM"])[-1])
    prog = [
        _instruction(LD_W_ABS, 4),  # seccomp_data.arch
        _instruction(JEQ_K, AUDIT_ARCH_X86_64, jt=1),
        _instruction(RET_K, RET_KILL_PROCESS),  # SystemCallArchitectures=native
        _instruction(LD_W_ABS, 0),  # seccomp_data.nr
        _instruction(JSET_K, X32_SYSCALL_BIT, jf=1),
        _instruction(RET_K, RET_KILL_PROCESS),
    ]

    def arg_check(nr: int, mask: int, value: int, ret: int) -> list[bytes]:
        """If syscall nr's third argument (low 32 bits) & mask == value: return `ret`; reload nr either way."""
        return [
            _instruction(JEQ_K, nr, jf=5),
            _instruction(LD_W_ABS, 32),  # seccomp_data.args[2], low half (little-endian)
            _instruction(AND_K, mask),
            _instruction(JEQ_K, value, jf=1),
            _instruction(RET_K, ret),
            _instruction(LD_W_ABS, 0),
        ]

    if (directives.get("MemoryDenyWriteExecute") or ["no"])[-1] == "yes":
        deny = RET_ERRNO | errno.EPERM
        prog += arg_check(numbers["mmap"], PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC, deny)
        prog += arg_check(numbers["mprotect"], PROT_EXEC, PROT_EXEC, deny)
        prog += arg_check(numbers["pkey_mprotect"], PROT_EXEC, PROT_EXEC, deny)
        prog += arg_check(numbers["shmat"], SHM_EXEC, SHM_EXEC, deny)
    families = " ".join(directives.get("RestrictAddressFamilies", [])).split()
    if families:
        allowed = sorted(ADDRESS_FAMILIES[f] for f in families)
        prog += [_instruction(JEQ_K, numbers["socket"], jf=3 + len(allowed)), _instruction(LD_W_ABS, 16)]
        prog += [_instruction(JEQ_K, family, jt=len(allowed) - i) for i, family in enumerate(allowed)]
        prog += [_instruction(RET_K, RET_ERRNO | errno.EAFNOSUPPORT), _instruction(LD_W_ABS, 0)]
    filters = directives.get("SystemCallFilter", [])
    if filters:
        for name in sorted(allowed_syscalls(filters)):
            if name in numbers:  # other architectures' syscalls are listed too
                prog += [_instruction(JEQ_K, numbers[name], jf=1), _instruction(RET_K, RET_ALLOW)]
        prog.append(_instruction(RET_K, error))
    else:
        prog.append(_instruction(RET_K, RET_ALLOW))
    return prog


def apply(unit: str) -> None:
    directives = service_directives(unit)
    libc = ctypes.CDLL(None, use_errno=True)

    def prctl(*args: int) -> None:
        if libc.prctl(*[ctypes.c_ulong(a) for a in args], *[ctypes.c_ulong(0)] * (5 - len(args))) != 0:
            raise OSError(ctypes.get_errno(), f"prctl{args}")

    if "CapabilityBoundingSet" in directives:
        keep = {CAPABILITIES[c] for c in " ".join(directives["CapabilityBoundingSet"]).split()}
        last = int(pathlib.Path("/proc/sys/kernel/cap_last_cap").read_text())
        for cap in range(last + 1):
            if cap not in keep:
                prctl(PR_CAPBSET_DROP, cap)
    if (directives.get("NoNewPrivileges") or ["no"])[-1] == "yes":
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    program = b"".join(build_filter(directives))
    buffer = ctypes.create_string_buffer(program)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


def main(argv: list[str]) -> None:
    unit, separator, *command = argv
    assert separator == "--" and command, __doc__
    apply(unit)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
