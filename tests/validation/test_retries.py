"""The retry policy: a failed calculation runs again up to ``retries`` times, and every failure is kept."""

from __future__ import annotations

from tests.validation.conftest import fcc_primitive
from tests.validation.test_qe import FAST, needs_pseudo, needs_pw

from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.validation.maker import ValidationMaker, call_here, prepare, validate
from alloyscreen.validation.targets import MixingEnergyMaker


@needs_pw
@needs_pseudo
def test_a_failing_pw_runs_again_up_to_the_retries_and_keeps_every_error(database):
    cu = fcc_primitive("Cu", 3.57)
    settings = {**FAST, "input_data": {"system": {"nbnd": 2}}}  # too few bands: pw.x stops with an error
    doc, reused = validate(cu, "qe", settings, "static", database=database, retries=2)
    assert (doc.status, doc.attempts, reused) == ("failed", 3, False)
    assert len(doc.earlier_errors) == 2 and all(e.startswith("pw.x error in routine") for e in doc.earlier_errors)
    again, reused = validate(cu, "qe", settings, "static", database=database, retries=2)
    assert (again.attempts, reused) == (3, True)  # the policy is spent: the failure is final
    more, reused = validate(cu, "qe", settings, "static", database=database, retries=3)
    assert (more.attempts, len(more.earlier_errors), reused) == (4, 3, False)


def test_a_stored_failure_is_run_again_when_the_policy_allows(database, cu3au):
    cu3au.scale_lattice(cu3au.volume * 1.013)  # a structure no other test computes
    prepared = prepare(cu3au, "emt", {}, "relax")
    key, claim = prepared.key, prepared.claim
    lost = CalculationDocument(id=key, **claim, status="failed", error="worker lost (node failure)").to_mongo()
    database["calculations"].insert_one(lost)
    kept, reused = validate(cu3au, "emt", {}, "relax", database=database)
    assert (kept.status, reused) == ("failed", True)  # no retries: the cache answers with the failure
    doc, reused = validate(cu3au, "emt", {}, "relax", database=database, retries=1)
    assert (doc.status, doc.attempts, doc.earlier_errors, reused) == (
        "completed", 2, ["worker lost (node failure)"], False)
    assert database["calculations"].count_documents({"_id": key}) == 1


def test_a_mixing_energy_label_runs_a_stored_failure_again_when_its_maker_allows(database, cu3au):
    cu3au.scale_lattice(cu3au.volume * 1.017)  # a structure no other test computes
    prepared = prepare(cu3au, "emt", {}, "vc-relax")
    key, claim = prepared.key, prepared.claim
    lost = CalculationDocument(id=key, **claim, status="failed", error="worker lost (node failure)").to_mongo()
    database["calculations"].insert_one(lost)
    lost = MixingEnergyMaker(validation=ValidationMaker(calculator="emt"))
    kept = call_here(lost.make(cu3au, "cu3au-lost"))
    assert kept.status == "failed"  # no retries: the stored failure is the answer
    retried = MixingEnergyMaker(validation=ValidationMaker(calculator="emt", retries=1))
    label = call_here(retried.make(cu3au, "cu3au-lost"))
    assert label.status == "completed"
    rerun = database["calculations"].find_one({"_id": key})
    assert (rerun["status"], rerun["attempts"], rerun["earlier_errors"]) == (
        "completed", 2, ["worker lost (node failure)"])
