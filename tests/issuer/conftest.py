"""Shared data for the issuer tests: the IPS and SMART Health Cards bundles, the samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IPS = ROOT / "tests" / "vectors" / "fhir-ips"
SHC = IPS / "smart-health-cards"
SAMPLES = ROOT / "mydata" / "samples"

IPS_BUNDLES = sorted(IPS.glob("*.json"))
SHC_BUNDLES = sorted(SHC.glob("*.json"))
SAMPLE_BUNDLES = [SAMPLES / "ips-emergency-bundle.json", SAMPLES / "discharge-bundle.json"]
ALL_BUNDLES = [*IPS_BUNDLES, *SHC_BUNDLES, *SAMPLE_BUNDLES]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data
