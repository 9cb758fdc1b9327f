#!/usr/bin/env python3
"""Prints "passed failed" for one test binary from its Boost.Test XML report.

A binary that died without a report counts every one of its test cases as failed.
"""
import subprocess
import sys
import xml.etree.ElementTree as ET


def listed_cases(binary):
    out = subprocess.run([binary, "--list_content"], capture_output=True, text=True)
    return sum(1 for line in out.stderr.splitlines() if line.rstrip().endswith("*"))


def main(report, binary):
    try:
        cases = ET.parse(report).getroot().iter("TestCase")
        results = [case.get("result") for case in cases]
    except (OSError, ET.ParseError):
        print(0, max(1, listed_cases(binary)))
        return
    passed = sum(1 for r in results if r == "passed")
    print(passed, len(results) - passed)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
