#!/usr/bin/env python3
"""Bytes per component of a linked binary, from its GNU ld link map (-Wl,-Map=FILE).

Counts the input sections the link kept in loaded, file-backed output sections (code, read-only
data, data, unwind tables; not .bss, not debug info), grouped by where they came from: a static
archive (libcrypto.a, libstdc++.a, libpocketlm_kernels.a, ...), the embedded web page, the
executable's own objects, or the link-time optimized partitions (LTO merges the cold targets). The total is close to the stripped file size (headers, symbol tables
and padding are the difference).

    tools/size_report.py build-aarch64-static/src/cli/pocketlm.map
"""
import collections
import os
import re
import sys

LOADED = re.compile(r"^\.(text|rodata|data|init_array|fini_array|tdata|eh_frame|gcc_except_table|"
                    r"data\.rel\.ro|got|init|fini|rela|ARM|note|stapsdt|preinit_array)")
ENTRY = re.compile(r"^\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")


def component(path):
    if ".ltrans" in path:  # link-time optimized code: the cold targets (pocketlm_cold in CMakeLists.txt)
        return "LTO partitions: server, store, CLI, chat, httplib (+ web page)"
    m = re.search(r"([^/]+\.a)\(([^)]*)\)$", path)
    if m:
        lib, obj = m.groups()
        if lib == "libpocketlm_server.a" and obj.startswith("web_assets"):
            return "web page (embedded, gzipped)"
        return lib
    if "/CMakeFiles/" in path:
        return "pocketlm executable (" + path.split("/CMakeFiles/")[1].split(".dir")[0] + ")"
    return os.path.basename(path)


def main(map_file):
    sizes = collections.Counter()
    in_map = False
    section = None  # current input section name (may stand alone on its line)
    out_loaded = False
    with open(map_file, errors="replace") as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_map = True
                continue
            if not in_map:
                continue
            if line and not line[0].isspace():  # an output section: ".text  0x...  0x..."
                name = line.split()[0]
                out_loaded = bool(LOADED.match(name)) and not name.startswith(".debug")
                section = None
                continue
            if not out_loaded:
                continue
            stripped = line.strip()
            if stripped.startswith("*") or not stripped:
                continue
            parts = stripped.split()
            if parts[0].startswith(".") or parts[0] == "COMMON":
                section = parts[0]
                if len(parts) >= 4 and parts[1].startswith("0x") and parts[2].startswith("0x"):
                    sizes[component(" ".join(parts[3:]))] += int(parts[2], 16)
                    section = None
                continue
            m = ENTRY.match(line)
            if m and section is not None:
                sizes[component(m.group(3))] += int(m.group(2), 16)
                section = None
    total = sum(sizes.values())
    for name, n in sizes.most_common():
        if n < 1024:
            continue
        print(f"{n:>10,} {100 * n / total:5.1f}%  {name}")
    print(f"{total:>10,} 100.0%  total (kept sections)")


if __name__ == "__main__":
    main(sys.argv[1])
