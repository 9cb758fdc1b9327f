#!/usr/bin/env python3
"""Prints "passed failed" for one test binary from its Boost.Test XML report, then the name of
each failed test case on a line of its own ("failed: BINARY/SUITE/CASE").

A binary that died without a report counts every one of its test cases as failed.
"""
import subprocess
import sys
import xml.etree.ElementTree as ET


def listed_cases(binary):
    out = subprocess.run([binary, "--list_content"], capture_output=True, text=True)
    return sum(1 for line in out.stderr.splitlines() if line.rstrip().endswith("*"))


def cases_of(node, path):
    for child in node:
        if child.tag == "TestSuite":
            yield from cases_of(child, path + [child.get("name")])
        elif child.tag == "TestCase":
            yield "/".join(path + [child.get("name")]), child.get("result")


def main(report, binary):
    name = binary.rsplit("/", 1)[-1]
    try:
        results = list(cases_of(ET.parse(report).getroot(), [name]))
    except (OSError, ET.ParseError):
        print(0, max(1, listed_cases(binary)))
        print(f"failed: {name} (it left no report: it crashed or timed out)")
        return
    passed = sum(1 for _, r in results if r == "passed")
    print(passed, len(results) - passed)
    for case, result in results:
        if result != "passed":
            print(f"failed: {case}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
