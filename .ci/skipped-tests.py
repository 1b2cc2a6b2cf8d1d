#!/usr/bin/env python3
"""Lists the tests a Maven build skipped and why, from the surefire and failsafe XML reports of its modules.

usage: skipped-tests.py [--since EPOCH_SECONDS] [ROOT]

ROOT is the project checkout (default: the working directory). With --since, reports written before that time
(left over from an earlier build) are ignored. Prints one group per reason, the tests under it; always exits 0.
"""
import argparse
import glob
import os
import sys
import xml.etree.ElementTree as ElementTree


def reason(skipped):
    """The skip message: the message attribute (@Disabled, @EnabledIf), else the first line of the report's text,
    where JUnit puts a failed assumption as 'org.opentest4j.TestAbortedException: Assumption failed: ...'."""
    message = skipped.get("message")
    if message:
        return message.strip()
    text = (skipped.text or "").strip()
    if not text:
        return "(no reason given)"
    first = text.splitlines()[0].strip()
    kind = skipped.get("type")
    if kind and first.startswith(kind + ":"):
        first = first[len(kind) + 1:].strip()
    return first


def skipped_tests(root, since):
    """(reason, module/Class.test) for every skipped test case; plus the reports that could not be read."""
    found = []
    unreadable = []
    for report in sorted(glob.glob(os.path.join(root, "*", "target", "*-reports", "TEST-*.xml"))):
        if os.path.basename(os.path.dirname(report)) not in ("surefire-reports", "failsafe-reports"):
            continue
        if since is not None and os.path.getmtime(report) < since:
            continue
        module = os.path.relpath(report, root).split(os.sep)[0]
        try:
            suite = ElementTree.parse(report).getroot()
        except ElementTree.ParseError as e:
            unreadable.append(f"{os.path.relpath(report, root)} ({e})")
            continue
        for case in suite.iter("testcase"):
            skipped = case.find("skipped")
            if skipped is not None:
                test_class = case.get("classname", "?").rsplit(".", 1)[-1]
                found.append((reason(skipped), f"{module}/{test_class}.{case.get('name', '?')}"))
    return found, unreadable


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", type=float, help="ignore reports older than this (seconds since the epoch)")
    parser.add_argument("root", nargs="?", default=".")
    args = parser.parse_args()
    found, unreadable = skipped_tests(args.root, args.since)
    if not found:
        print("skipped tests: none")
    else:
        print(f"skipped tests: {len(found)}")
        by_reason = {}
        for why, test in found:
            by_reason.setdefault(why, []).append(test)
        for why in sorted(by_reason, key=lambda r: (-len(by_reason[r]), r)):
            print(f"  {why} ({len(by_reason[why])}):")
            for test in sorted(by_reason[why]):
                print(f"    {test}")
    for report in unreadable:
        print(f"  unreadable report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
