"""JUnit XML for CI systems: one test case per material."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def junit_xml(results: list[dict], suite: str = "texgs bake", seconds: float = 0.0) -> bytes:
    """results: report.json material entries (name, status, seconds, message, figures)."""
    failures = sum(r["status"] == "gate_failed" for r in results)
    errors = sum(r["status"] == "error" for r in results)
    skipped = sum(r["status"] == "cancelled" for r in results)
    root = ET.Element("testsuites")
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{seconds:.3f}",
    )
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname="texgs.bake", name=r["name"], time=f"{r.get('seconds', 0.0):.3f}")
        if r["status"] == "gate_failed":
            el = ET.SubElement(tc, "failure", message=r.get("message", "quality gate failed"), type="QualityGate")
            el.text = "\n".join(r.get("gate_failures", []))
        elif r["status"] == "error":
            el = ET.SubElement(tc, "error", message=r.get("message", "could not bake"), type="BakeError")
            el.text = r.get("message", "")
        elif r["status"] == "cancelled":
            ET.SubElement(tc, "skipped", message=r.get("message", "cancelled"))
        out = ET.SubElement(tc, "system-out")
        out.text = r.get("summary", r["status"])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
