"""storekit.jobwatch without a cluster: which Jobs it watches (from the engine's events), what
a failed Job is, and that a failure stops the engine once. The real thing (a setup Job failed
by its podFailurePolicy on the real node) is tests/test_store_node.py."""

from __future__ import annotations

import threading

import pulumi.automation.events as pe
from lightkube.models.batch_v1 import JobCondition, JobStatus
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job

from storekit.errors import JobFailed, OperationFailed
from storekit.jobwatch import JOB_TYPE, FailedJob, JobWatch, failure_of

URN = "urn:pulumi:s::storekit::kubernetes:batch/v1:Job::woocommerce-setup"


def event(kind: str, op: str = "create", type_: str = JOB_TYPE, name: str = "woocommerce-setup") -> pe.EngineEvent:
    new = pe.StepEventStateMetadata(type=type_, urn=URN, id="", parent="", provider="",
                                    inputs={"metadata": {"name": name, "namespace": "store-a"}})
    meta = pe.StepEventMetadata(op=pe.OpType(op), urn=URN, type=type_, provider="", new=new)
    return pe.EngineEvent(sequence=1, timestamp=0, **{kind: {"resource_pre_event": pe.ResourcePreEvent,
                                                             "res_outputs_event": pe.ResOutputsEvent}[kind](meta)})


def job(*conditions: tuple[str, str, str]) -> Job:
    return Job(metadata=ObjectMeta(name="woocommerce-setup", namespace="store-a"),
               status=JobStatus(conditions=[JobCondition(type=t, status=s, reason=r, message=f"{r} happened")
                                            for t, s, r in conditions]))


class Client:
    def __init__(self, job: Job):
        self.job = job

    def get(self, kind, name, namespace):
        return self.job

    def list(self, kind, namespace, labels):
        return []


def test_a_job_is_failed_only_by_a_true_failed_condition():
    assert failure_of(job()) is None
    assert failure_of(job(("FailureTarget", "True", "PodFailurePolicy"), ("Failed", "False", "x"))) is None
    assert failure_of(job(("Failed", "True", "PodFailurePolicy"))) == ("PodFailurePolicy", "PodFailurePolicy happened")


def test_the_watch_follows_the_jobs_the_engine_awaits_and_forwards_every_event():
    seen = []
    watch = JobWatch(lambda: None, "a", seen.append)
    watch(event("resource_pre_event", "create", type_="kubernetes:apps/v1:Deployment"))
    watch(event("resource_pre_event", "delete-replaced"))
    assert watch._awaited == {}
    watch(event("resource_pre_event", "create-replacement"))
    assert watch._awaited == {URN: ("store-a", "woocommerce-setup")}
    watch(event("res_outputs_event", "create-replacement"))
    assert watch._awaited == {} and len(seen) == 4


def test_a_failed_job_stops_the_engine_once_and_becomes_a_clear_error():
    stopped, done = [], threading.Event()
    watch = JobWatch(lambda: Client(job(("Failed", "True", "PodFailurePolicy"))), "a", lambda e: None, every=0.01,
                     stop_engine=lambda name: (stopped.append(name), done.set()))
    with watch:
        watch(event("resource_pre_event", "update"))
        assert done.wait(5)
    assert stopped == ["a"]
    assert watch.failure == FailedJob("store-a", "woocommerce-setup", "PodFailurePolicy", "PodFailurePolicy happened")
    error = watch.failure.error("a", lambda text: text.replace("happened", "(sensitive)"))
    assert isinstance(error, JobFailed) and isinstance(error, OperationFailed) and error.exit_code == 1
    assert error.message == "store 'a': the Job woocommerce-setup failed (PodFailurePolicy): PodFailurePolicy (sensitive)"
    assert error.to_dict()["job"] == {"namespace": "store-a", "name": "woocommerce-setup", "reason": "PodFailurePolicy"}


def test_a_job_still_running_stops_nothing():
    stopped = []
    watch = JobWatch(lambda: Client(job(("Complete", "False", ""))), "a", lambda e: None, every=0.01,
                     stop_engine=stopped.append)
    with watch:
        watch(event("resource_pre_event", "create"))
        threading.Event().wait(0.1)
    assert stopped == [] and watch.failure is None
