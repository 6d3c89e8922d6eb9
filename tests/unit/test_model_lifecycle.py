"""Model lifecycles: the built-in table, the control plane over it and its cache, the
operator's overrides, the headers a Legacy model's answer carries, and the default model."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime

import boto3
import pytest
from botocore.stub import Stubber

from imagegen import catalog
from imagegen.catalog import ACTIVE, EOL, LEGACY, Lifecycle
from imagegen.config import ConfigError, Settings
from imagegen.errors import ServiceError
from imagegen.generation import parse_request, plan_generation
from imagegen.model_lifecycle import (
    ModelLifecycles,
    Reported,
    active_successor,
    applied,
    choose_default,
    deprecation_headers,
    parse_overrides,
)
from imagegen.providers.bedrock import CallWindow
from imagegen.providers.lifecycle import BedrockLifecycleSource
from imagegen.records import PENDING, Job, utc_in, utc_now
from imagegen.services import build_lifecycle_source, build_services
from worker.jobs import Lease, _generate

TODAY = date(2026, 12, 4)
NOVA = "amazon.nova-canvas-v1:0"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
CORE = "stability.stable-image-core-v1:1"
SD35 = "stability.sd3-5-large-v1:0"


def test_every_model_has_a_record_whose_successor_chain_reaches_an_active_model():
    assert set(catalog.LIFECYCLE) == set(catalog.MODELS)
    for model_id, record in catalog.LIFECYCLE.items():
        if record.status != ACTIVE:
            assert active_successor(model_id, catalog.LIFECYCLE.__getitem__) is not None


def test_the_table_says_what_the_model_pages_say_today():
    statuses = {m: applied(r, None, TODAY).status for m, r in catalog.LIFECYCLE.items()}
    assert statuses[NOVA] == EOL
    assert statuses[TITAN_V2] == EOL
    assert catalog.LIFECYCLE[TITAN_V2].end_of_life == date(2026, 6, 30)
    assert catalog.LIFECYCLE[NOVA].end_of_life == date(2026, 9, 30)
    services = {m for m, spec in catalog.MODELS.items() if spec.family == "stability-services"}
    assert {m for m, s in statuses.items() if s == ACTIVE} == {
        SD35,
        CORE,
        "stability.stable-image-ultra-v1:1",
        *services,  # the image services' model cards: "Model lifecycle: Active"
    }


def test_a_passed_end_of_life_date_is_eol_whatever_the_control_plane_says():
    record = Lifecycle(LEGACY, end_of_life=date(2026, 9, 30), successor=CORE)
    assert applied(record, Reported(ACTIVE), TODAY).status == EOL
    assert applied(record, Reported(ACTIVE), date(2026, 9, 29)).status == ACTIVE


def test_the_control_plane_sets_the_status_and_fills_the_dates():
    reported = Reported(LEGACY, legacy_since=date(2026, 11, 1), end_of_life=date(2027, 5, 1))
    assert applied(Lifecycle(ACTIVE, successor=CORE), reported, TODAY) == Lifecycle(
        LEGACY, date(2026, 11, 1), date(2027, 5, 1), CORE
    )


class CountingSource:
    def __init__(self, answers: list[dict[str, Reported] | None]) -> None:
        self.answers = answers
        self.calls = 0

    def __call__(self) -> dict[str, Reported] | None:
        self.calls += 1
        return self.answers.pop(0)


def test_the_control_plane_is_asked_once_per_ttl_and_a_failure_keeps_the_last_answer():
    now = [0.0]
    source = CountingSource([{SD35: Reported(LEGACY)}, None, {SD35: Reported(ACTIVE)}])
    book = ModelLifecycles({}, source, 3600, today=lambda: TODAY, clock=lambda: now[0])
    assert book.of(SD35).status == LEGACY
    assert book.of(CORE).status == ACTIVE  # not listed: the table
    assert source.calls == 1
    now[0] = 3599.0
    assert book.of(SD35).status == LEGACY
    assert source.calls == 1
    now[0] = 3600.0
    assert book.of(SD35).status == LEGACY  # the ask failed: the last answer stands
    assert source.calls == 2
    now[0] = 7199.0
    assert book.of(SD35).status == LEGACY  # and is not repeated before the TTL
    assert source.calls == 2
    now[0] = 7200.0
    assert book.of(SD35).status == ACTIVE
    assert source.calls == 3


def test_without_a_control_plane_the_table_decides():
    book = ModelLifecycles({}, None, 3600, today=lambda: TODAY)
    assert book.of(NOVA).status == EOL
    assert book.of(CORE).status == ACTIVE


def test_an_eol_model_is_refused_with_img203_naming_an_active_successor():
    book = ModelLifecycles({}, None, 3600, today=lambda: TODAY)
    with pytest.raises(ServiceError) as refused:
        book.require_usable(NOVA)
    assert refused.value.code == "IMG203"
    assert refused.value.details["successor"] == CORE
    assert refused.value.details["lifecycle"]["end_of_life"] == "2026-09-30"
    assert "2026-09-30" in refused.value.message
    assert book.require_usable(CORE).status == ACTIVE


def test_overrides_win_over_dates_and_the_control_plane():
    overrides = parse_overrides(f"{NOVA}=ACTIVE, {SD35}=legacy")
    source = CountingSource([{NOVA: Reported(LEGACY)}])
    book = ModelLifecycles(overrides, source, 3600, today=lambda: TODAY)
    assert book.of(NOVA) == Lifecycle(ACTIVE)
    assert book.of(SD35).status == LEGACY


def test_overrides_in_json_carry_dates_and_a_successor():
    overrides = parse_overrides(
        '{"amazon.nova-canvas-v1:0": {"status": "LEGACY", "legacy_since": "2026-11-01",'
        ' "end_of_life": "2027-05-01", "successor": "stability.sd3-5-large-v1:0"}}'
    )
    assert overrides[NOVA] == Lifecycle(LEGACY, date(2026, 11, 1), date(2027, 5, 1), SD35)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("amazon.nova-canvas-v1:0", "not model_id=STATUS"),
        ("nope=ACTIVE", "unknown model"),
        ("amazon.nova-canvas-v1:0=RETIRED", "status must be one of"),
        ('{"amazon.nova-canvas-v1:0": {"status": "LEGACY", "successor": "x"}}', "successor"),
        ('{"amazon.nova-canvas-v1:0": {"status": "LEGACY", "end_of_life": "soon"}}', "nova"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_overrides_are_refused_at_start(raw: str, says: str):
    with pytest.raises(ConfigError, match="IMAGEGEN_MODEL_LIFECYCLE") as refused:
        Settings.from_env({"IMAGEGEN_MODEL_LIFECYCLE": raw})
    assert says in str(refused.value)


def test_a_legacy_model_gets_deprecation_sunset_and_successor_link_headers():
    lifecycle = Lifecycle(LEGACY, date(2026, 11, 1), date(2027, 5, 1), CORE)
    headers = deprecation_headers(lifecycle, "https://api.example")
    epoch = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
    assert headers == {
        "Deprecation": f"@{epoch}",
        "Sunset": "Sat, 01 May 2027 00:00:00 GMT",
        "Link": '<https://api.example/v1/models/stability.stable-image-core-v1:1>; rel="successor-version"',
    }


def test_headers_name_only_what_is_known_and_only_for_legacy_models():
    assert deprecation_headers(Lifecycle(LEGACY), "https://api.example") == {}
    assert deprecation_headers(Lifecycle(ACTIVE), "https://api.example") == {}
    assert deprecation_headers(Lifecycle(EOL, successor=CORE), "https://api.example") == {}


def test_the_default_is_nova_canvas_only_while_it_is_active():
    chosen = choose_default(None, {}, TODAY)
    assert chosen.model_id == CORE
    assert chosen.configured == NOVA
    assert "EOL" in chosen.reason and CORE in chosen.reason
    kept = choose_default(None, parse_overrides(f"{NOVA}=ACTIVE"), TODAY)
    assert (kept.model_id, kept.reason) == (NOVA, "the built-in default, ACTIVE")


def test_a_configured_legacy_default_gives_way_to_its_successor():
    chosen = choose_default(SD35, parse_overrides(f"{SD35}=LEGACY"), TODAY)
    assert chosen.model_id == CORE  # SD3.5 has no successor: the preference order
    assert "first ACTIVE" in chosen.reason


def test_the_default_follows_the_successor_chain_before_the_preference_order():
    overrides = parse_overrides(
        f'{{"{NOVA}": {{"status": "LEGACY", "successor": "{SD35}"}}, "{CORE}": "ACTIVE"}}'
    )
    chosen = choose_default(None, overrides, TODAY)
    assert chosen.model_id == SD35
    assert "successor" in chosen.reason


def test_settings_refuse_an_explicit_eol_default_and_choose_one_when_unset():
    with pytest.raises(
        ConfigError, match=r"IMAGEGEN_DEFAULT_MODEL: 'amazon\.nova-canvas-v1:0' is EOL"
    ):
        Settings.from_env({"IMAGEGEN_DEFAULT_MODEL": NOVA})
    assert Settings.from_env({}).default_model == CORE
    assert Settings.from_env({"IMAGEGEN_DEFAULT_MODEL": ""}).default_model == CORE
    accepted = Settings.from_env(
        {"IMAGEGEN_DEFAULT_MODEL": NOVA, "IMAGEGEN_MODEL_LIFECYCLE": f"{NOVA}=ACTIVE"}
    )
    assert accepted.default_model == NOVA


def test_the_local_backend_never_asks_the_control_plane():
    assert build_lifecycle_source(Settings.from_env({})) is None


def _stubbed() -> tuple[BedrockLifecycleSource, Stubber]:
    client = boto3.client(
        "bedrock",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return BedrockLifecycleSource("us-east-1", client), Stubber(client)


def _summary(model_id: str, lifecycle: dict[str, object]) -> dict[str, object]:
    return {
        "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
        "modelId": model_id,
        "modelLifecycle": lifecycle,
    }


def test_the_adapter_reads_each_image_models_status_and_dates():
    source, stubber = _stubbed()
    stubber.add_response(
        "list_foundation_models",
        {
            "modelSummaries": [
                _summary(SD35, {"status": "ACTIVE"}),
                _summary(
                    NOVA,
                    {
                        "status": "LEGACY",
                        "legacyTime": datetime(2026, 3, 30, tzinfo=UTC),
                        "endOfLifeTime": datetime(2026, 9, 30, tzinfo=UTC),
                    },
                ),
            ]
        },
        {"byOutputModality": "IMAGE"},
    )
    with stubber:
        reported = source()
    stubber.assert_no_pending_responses()
    assert reported == {
        SD35: Reported(ACTIVE),
        NOVA: Reported(LEGACY, date(2026, 3, 30), date(2026, 9, 30)),
    }


def test_the_adapter_answers_none_when_bedrock_refuses_and_the_table_decides():
    source, stubber = _stubbed()
    stubber.add_client_error(
        "list_foundation_models", "AccessDeniedException", http_status_code=403
    )
    with stubber:
        book = ModelLifecycles({}, source, 3600, today=lambda: TODAY)
        assert book.of(SD35).status == ACTIVE
        assert book.of(NOVA).status == EOL
    stubber.assert_no_pending_responses()


class RecordingModel:
    def __init__(self) -> None:
        self.calls = 0

    def generate(self, *args: object) -> list[object]:
        self.calls += 1
        return []


def test_a_job_accepted_before_its_models_end_of_life_fails_in_the_worker_without_a_call(
    tmp_path,
):
    # The job was accepted while Nova Canvas served; the worker now runs on today's table.
    services = build_services(Settings.from_env({"IMAGEGEN_DATA_DIR": str(tmp_path)}))
    job = Job(
        job_id="job_" + uuid.uuid4().hex, tenant_id="t1", user_id="u1", request_id="r",
        kind="text_to_image", request={},
        plan=plan_generation(parse_request({"prompt": "a fox", "model": NOVA}), NOVA),
        status=PENDING, created_at=utc_now(),
    )  # fmt: skip
    services.repository.add_job(job)
    run_id = "run_" + uuid.uuid4().hex
    assert services.repository.start_job(job.job_id, run_id, utc_now(), utc_in(30))
    model = RecordingModel()
    with Lease(services.repository, job.job_id, run_id, 30) as lease:
        window = CallWindow(time.monotonic() + 60, threading.Event())
        with pytest.raises(ServiceError) as failed:
            _generate(services, model, job, run_id, lease, window)  # type: ignore[arg-type]
    assert failed.value.code == "IMG203"
    assert failed.value.details["successor"] == CORE
    assert model.calls == 0


def test_the_served_default_moves_off_a_default_the_control_plane_calls_legacy():
    def reports():
        return {CORE: Reported(LEGACY)}

    book = ModelLifecycles({}, reports, 3600, today=lambda: TODAY)
    served = book.serving_default(CORE)

    assert served != CORE
    assert book.of(served).status == ACTIVE
    assert catalog.TEXT_TO_IMAGE in catalog.MODELS[served].tasks
    # While the chosen default is ACTIVE it stays.
    assert ModelLifecycles({}, None, 3600, today=lambda: TODAY).serving_default(CORE) == CORE
