#!/usr/bin/env python3
"""Generate src/util/lazy-curl.c and src/util/lazy-archive.c.

cove loads libcurl and libarchive on first use (see src/util/lazy.h): each
curl_* / archive_* function that libcove calls gets a forwarding wrapper with
the exact prototype of the installed header.  The list of functions is what
libcove.a leaves undefined (`nm -u`), so after calling a new one:

    make build/libcove.a && scripts/gen-lazy.py

(the link of build/cove fails with "undefined reference to curl_..." until
then).  The prototypes come from the headers that pkg-config finds, run
through the C preprocessor; the output is formatted with clang-format.

Usage: scripts/gen-lazy.py [LIBCOVE_A]   (default: build/libcove.a)
"""

import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Variadic functions and how their variable part is forwarded: "one" for a
# single 64-bit argument (see CURL_VARIADIC_NOTE), "printf" for a format and
# its arguments, formatted here and passed on as "%s".
VARIADIC = {
    "curl_easy_setopt": "one",
    "curl_easy_getinfo": "one",
    "curl_multi_setopt": "one",
    "curl_share_setopt": "one",
    "archive_set_error": "printf",
}

CURL_VARIADIC_NOTE = """\
/*
 * curl_easy_setopt() and curl_easy_getinfo(), like curl_multi_setopt() and
 * curl_share_setopt(), take one argument after the option, whose type
 * depends on the option: a long, a curl_off_t, a data or callback pointer
 * (setopt), or a pointer to the result (getinfo).  libcurl never takes a
 * floating-point or aggregate argument there.  The wrappers forward that
 * argument as one 64-bit integer, which passes the caller's bits through
 * unchanged on the two ABIs this file accepts:
 *
 * - x86-64 (System V) and aarch64 (AAPCS64 as Linux uses it) pass integer
 *   and pointer arguments, named or variadic, in the same general-purpose
 *   registers (rdi/rsi/rdx, x0/x1/x2 for the third), 8 bytes each, and
 *   va_arg() of an 8-byte integer reads that whole register;
 * - long, curl_off_t and every data and function pointer are 8 bytes
 *   there (asserted below), so the value libcurl's va_arg() reads, as
 *   whichever of these types the option has, is the one the caller passed.
 *
 * A caller that passes an int where libcurl wants a long is wrong with or
 * without the wrapper (its upper bits are unspecified either way); cove
 * passes 0L/1L and long variables (curl's typecheck-gcc.h checks the
 * callers, not this file, which disables it to define the functions).
 */
#if !defined(__linux__) || !(defined(__x86_64__) || defined(__aarch64__)) ||  \\
    !defined(__LP64__)
#error "varargs are forwarded as one 64-bit value: x86-64/aarch64 Linux only"
#endif
_Static_assert(sizeof(long) == 8 && sizeof(curl_off_t) == 8 &&
		   sizeof(void *) == 8 && sizeof(curl_write_callback) == 8,
	       "curl_easy_setopt() arguments must be 8 bytes");
"""

LIBS = [
    {
        "prefix": "curl_",
        "pkg": "libcurl",
        "headers": ["curl/curl.h", "curl/easy.h", "curl/urlapi.h", "curl/header.h"],
        # The header's type-checking macros would rename the definitions.
        "defines": ["CURL_DISABLE_TYPECHECK"],
        "soname_macro": "COVE_LIBCURL_SONAME",
        "purpose": "registry access",
        "out": "src/util/lazy-curl.c",
        "note": CURL_VARIADIC_NOTE,
    },
    {
        "prefix": "archive_",
        "pkg": "libarchive",
        "headers": ["archive.h", "archive_entry.h"],
        "defines": [],
        "soname_macro": "COVE_LIBARCHIVE_SONAME",
        "purpose": "image archives and layers",
        "out": "src/util/lazy-archive.c",
        "note": "",
    },
]

C_KEYWORDS = {
    "void", "char", "short", "int", "long", "float", "double", "signed",
    "unsigned", "_Bool", "const", "volatile", "restrict", "__restrict",
    "struct", "union", "enum",
}


def die(msg):
    sys.exit(f"gen-lazy: {msg}")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def used_names(libcove):
    if not os.path.exists(libcove):
        die(f"{libcove} missing: run `make {os.path.relpath(libcove, ROOT)}` first")
    names = set()
    for line in run(["nm", "-u", libcove]).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            names.add(parts[1])
    return names


def strip_attributes(s):
    """Remove every __attribute__((...)) and __extension__."""
    s = s.replace("__extension__", " ")
    while True:
        i = s.find("__attribute__")
        if i < 0:
            return s
        j = s.index("(", i)
        depth = 0
        for k in range(j, len(s)):
            if s[k] == "(":
                depth += 1
            elif s[k] == ")":
                depth -= 1
                if depth == 0:
                    break
        s = s[:i] + " " + s[k + 1:]


def preprocess(lib):
    cflags = shlex.split(run(["pkg-config", "--cflags", lib["pkg"]]))
    src = "".join(f"#include <{h}>\n" for h in lib["headers"])
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-E", "-P", "-D_GNU_SOURCE", *(f"-D{d}" for d in lib["defines"]),
           *cflags, "-x", "c", "-"]
    text = run(cmd, input=src)
    return " ".join(strip_attributes(text).split())


def split_params(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def param_name(p):
    """The parameter's name, or None when the header gives only a type."""
    if "(" in p:
        m = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)?\s*\)", p)
        if not m:
            die(f"cannot parse parameter '{p}'")
        return m.group(1)
    p = re.sub(r"\[[^\]]*\]\s*$", "", p)
    toks = re.findall(r"[A-Za-z_]\w*|\S", p)
    if (len(toks) >= 2 and re.match(r"[A-Za-z_]", toks[-1])
            and toks[-1] not in C_KEYWORDS
            and toks[-2] not in ("struct", "union", "enum")):
        return toks[-1]
    return None


def prototype(text, name):
    hits = re.findall(r"(?:^|[;}])\s*([^;{}]*?\b" + name + r"\s*\([^;{}]*\))\s*;", text)
    if len(hits) != 1:
        die(f"found {len(hits)} declarations of {name} in the headers")
    decl = re.sub(r"^\s*extern\s+", "", hits[0]).strip()
    if re.match(r"(typedef|static)\b", decl):
        die(f"{name} is not a library function: {decl}")
    m = re.search(r"\b" + name + r"\s*\(", decl)
    ret = decl[:m.start()].strip()
    params = split_params(decl[m.end():decl.rindex(")")])
    if params == ["void"]:
        params = []
    variadic = bool(params) and params[-1] == "..."
    if variadic:
        params = params[:-1]
    named = []
    for i, p in enumerate(params):
        n = param_name(p)
        if n and n.startswith("lazy_"):
            die(f"{name}: parameter {n} clashes with the wrappers' locals")
        if n is None:
            n = f"a{i}"
            if "(" in p:  # a function pointer: int (*)(void *)
                p = re.sub(r"\(\s*\*\s*\)", f"(*{n})", p, count=1)
            elif p.endswith("]"):
                p = re.sub(r"\s*\[", f" {n}[", p, count=1)
            else:
                p = p + ("" if p.endswith("*") else " ") + n
            if param_name(p) != n:
                die(f"cannot name parameter '{p}' of {name}")
        named.append((p, n))
    return ret, named, variadic


def wrapper(name, proto):
    ret, params, variadic = proto
    decl = ", ".join(p for p, _ in params)
    args = ", ".join(n for _, n in params)
    sep = "" if ret.endswith("*") else " "
    ret_kw = "" if ret == "void" else "return "
    if not variadic:
        return (f"{ret}{sep}{name}({decl or 'void'})\n{{\n"
                f"\t{ret_kw}LAZY({name})({args});\n}}\n")
    kind = VARIADIC.get(name)
    last = params[-1][1]
    if kind == "one":
        return (f"{ret}{sep}{name}({decl}, ...)\n{{\n"
                "\tva_list lazy_ap;\n\tuint64_t lazy_arg;\n\n"
                f"\tva_start(lazy_ap, {last});\n"
                "\tlazy_arg = va_arg(lazy_ap, uint64_t);\n"
                f"\tva_end(lazy_ap);\n\t{ret_kw}LAZY({name})({args}, lazy_arg);\n}}\n")
    if kind == "printf":
        if ret != "void":
            die(f"{name}: printf-like wrappers returning a value are not done")
        head = ", ".join(n for _, n in params[:-1])
        return ("/*\n * A va_list cannot be passed to a variadic function: the message is\n"
                " * formatted here and passed on as \"%s\".\n */\n"
                f"{ret}{sep}{name}({decl}, ...)\n{{\n"
                "\tchar *lazy_msg = NULL;\n\tva_list lazy_ap;\n\n"
                f"\tif (!{last}) {{\n\t\tLAZY({name})({head}, NULL);\n\t\treturn;\n\t}}\n"
                f"\tva_start(lazy_ap, {last});\n"
                f"\tif (vasprintf(&lazy_msg, {last}, lazy_ap) < 0)\n\t\tlazy_msg = NULL;\n"
                "\tva_end(lazy_ap);\n"
                f"\tLAZY({name})({head}, \"%s\", lazy_msg ? lazy_msg : {last});\n"
                "\tfree(lazy_msg);\n}\n")
    die(f"{name} is variadic: add it to VARIADIC in {os.path.relpath(__file__, ROOT)}")


def generate(lib, names):
    text = preprocess(lib)
    version = run(["pkg-config", "--modversion", lib["pkg"]]).strip()
    headers = ", ".join(f"<{h}>" for h in lib["headers"])
    out = [f"""/*
 * Generated by scripts/gen-lazy.py from {headers}
 * ({lib['pkg']} {version}); do not edit.  When libcove calls another
 * {lib['prefix']}* function, rerun:
 *
 *   make build/libcove.a && scripts/gen-lazy.py
 *
 * Every {lib['prefix']}* function that libcove calls, with the header's
 * prototype, forwarding to the real one in {lib['pkg']}, which is loaded on the
 * first call (see util/lazy.h): `cove` does not link {lib['pkg']}.
 */
#include "util/lazy.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
"""]
    for d in lib["defines"]:
        out.append(f"\n#define {d}\n")
    out.extend(f"#include <{h}>\n" for h in lib["headers"])
    out.append(f"""
#ifndef {lib['soname_macro']}
#error "the Makefile passes {lib['soname_macro']} (the SONAME of {lib['pkg']}.so)"
#endif
#define LAZY(name) COVE_LAZY({lib['soname_macro']}, "{lib['purpose']}", name)
""")
    if lib["note"]:
        out.append("\n" + lib["note"])
    for name in names:
        out.append("\n" + wrapper(name, prototype(text, name)))
    path = os.path.join(ROOT, lib["out"])
    with open(path, "w") as f:
        f.write("".join(out))
    subprocess.run(["clang-format", "-i", path], check=True, cwd=ROOT)
    print(f"gen-lazy: {lib['out']}: {len(names)} functions")


def main():
    libcove = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/libcove.a")
    used = used_names(libcove)
    total = 0
    for lib in LIBS:
        names = sorted(n for n in used if n.startswith(lib["prefix"]))
        generate(lib, names)
        total += len(names)
    print(f"gen-lazy: {total} wrappers")


if __name__ == "__main__":
    main()
