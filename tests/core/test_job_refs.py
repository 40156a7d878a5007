"""`JobRefs`: an immutable sequence of `JobRef`s made when read, from ids kept in a tuple."""

from __future__ import annotations

import dataclasses

import pytest

from jobs_core import JobRef, JobRefs
from jobs_core.job_refs import new_refs


def test_job_refs_read_like_the_list_of_refs_they_stand_for() -> None:
    refs = JobRefs([7, 8, 9], ref_id="r", existing=[1])
    listed = [JobRef(id=7, ref_id="r"), JobRef(id=8, ref_id="r", existing=True),
              JobRef(id=9, ref_id="r")]  # fmt: skip
    assert len(refs) == 3 and list(refs) == listed and refs == listed
    assert refs[1] == listed[1] and refs[-2] == listed[1] and refs[-1] == listed[2]
    assert refs[1:] == listed[1:] and refs[::-1] == listed[::-1]
    assert listed[0] in refs and JobRef(id=8) not in refs
    assert refs.ids == (7, 8, 9) and refs.existing == frozenset({1}) and refs.ref_id == "r"
    assert refs.index(listed[2]) == 2 and refs != [] and refs != "abc"
    assert repr(refs) == "<JobRefs of 3 jobs: ids 7..9>"
    with pytest.raises(IndexError):
        refs[3]
    with pytest.raises(TypeError):
        hash(refs)
    with pytest.raises(AttributeError):
        refs.extra = 1  # type: ignore[attr-defined]


def test_job_refs_of_refs_keep_their_ids_and_existing_flags() -> None:
    listed = [JobRef(id=3, ref_id="a", existing=True), JobRef(id=5, ref_id="a")]
    refs = JobRefs.of(listed)
    assert refs == listed and refs.existing == frozenset({0})
    assert JobRefs.of([]) == [] and len(JobRefs([])) == 0


def test_new_refs_are_frozen_job_refs_equal_to_those_made_one_by_one() -> None:
    refs = new_refs(range(3, 6))
    assert refs == [JobRef(id=i) for i in range(3, 6)]
    assert all(type(r) is JobRef for r in refs) and hash(refs[0]) == hash(JobRef(id=3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        refs[0].id = 9  # type: ignore[misc]
