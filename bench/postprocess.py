"""Benchmark: the worker's CPU per 1024x1024 image after the model call, and on threads.

The inputs are what the local model endpoint sends back: for each image, imagegen builds the
SDXL request body of an n=1 1024x1024 generation, localbedrock's SDXL handler parses it,
localbedrock's renderer draws and encodes the PNG, and the handler wraps it in its response
body (base64 in JSON), which is serialised to bytes as the endpoint sends it. Two inputs:
the stand-in's own pictures (flat shapes, PNGs of about 50 KB), and the same pictures with
seeded blurred noise blended in before encoding ("photo-like", PNGs of about 1.3 MB, nearer
a model's photograph), since decoding costs grow with the data.

Part 1, per input, in one thread, IMAGES images after WARM_UP unmeasured ones: the CPU time
(time.thread_time) and wall time of each stage the worker runs per image, with the worker's
own functions: the JSON parse of the response body (providers.bedrock); the base64 decode
(providers.bodies.parse_response); the full decode and check (Image.open and load, as
imaging.check_and_thumbnail does); the WebP thumbnail (imaging.make_thumbnail); the two
writes to the disk blob store (image and thumbnail); the record: the progress update the
worker writes when a call finishes, then complete_job of an n=1 job with its image record
(made by worker.jobs._store) in SQLite. The services are built by build_services from
settings whose data directory is a temporary one (Redis is never contacted).

Part 2: the whole per-image pipeline as the worker runs it once a call returns (JSON parse,
parse_response, worker.jobs._store: check, thumbnail, both writes, the image record's
fields), per input, over PARALLEL_IMAGES images on 1, 2 and 4 threads of this one process; images a
second (median of REPEATS runs) and the speed-up against 1 thread.

Run: .venv/bin/python -m bench.postprocess
"""

from __future__ import annotations

import io
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageFilter

from imagegen import catalog
from imagegen.config import Settings
from imagegen.events import job_webhook
from imagegen.generation import parse_request, plan_generation
from imagegen.imaging import FORMATS, make_thumbnail
from imagegen.job_files import image_keys
from imagegen.plan import GenerationPlan
from imagegen.providers.bodies import build_body, parse_response
from imagegen.records import COMPLETED, PENDING, Job, utc_in, utc_now
from imagegen.services import Services, build_services
from localbedrock.models import REGISTRY
from localbedrock.render import encode, sketch_image
from worker.jobs import _store

SDXL = "stability.stable-diffusion-xl-v1"
SIZE = "1024x1024"
IMAGES = 30
WARM_UP = 3
PARALLEL_IMAGES = 48
THREADS = (1, 2, 4)
REPEATS = 3
TARGET_MS = 40.0
STAGES = (
    "JSON parse of the response body",
    "base64 decode (parse_response)",
    "decode + verify (Image.open, load)",
    "thumbnail (make_thumbnail, WebP)",
    "store (disk blob put of image + thumbnail)",
    "record: progress update",
    "record: complete_job (n=1)",
)
CHECK = "_store (cross-check)"
# The stand-in's pictures are flat shapes scaled up, so their PNGs are far smaller than a
# model's photographs, and PNG decoding costs grow with the data. The second input blends
# this much seeded, blurred noise into the same pictures: a PNG of about 1.3 MB.
PHOTO_LIKE_NOISE = 0.35
INPUTS = {"localbedrock stand-in": False, "photo-like": True}


@dataclass(frozen=True)
class Response:
    """One n=1 generation's plan and the model endpoint's response body for it."""

    plan: GenerationPlan
    body: bytes


def model_response(settings: Settings, index: int, photo_like: bool) -> Response:
    """The plan of an n=1 SDXL job (seed `index`) and the body localbedrock answers its one
    call with; `photo_like` blends seeded blurred noise into the picture before it is encoded
    (see PHOTO_LIKE)."""
    request = parse_request(
        {
            "prompt": f"a lighthouse at dusk, bench image {index}",
            "model": SDXL,
            "size": SIZE,
            "seed": index,
        }
    )
    plan = plan_generation(request, settings.default_model)
    (call,) = plan.calls()
    handler = REGISTRY[SDXL]
    job = handler.parse(build_body(plan, call))
    images = []
    for seed in job.seeds:
        # What localbedrock.server renders for a text-to-image call (render_image).
        picture = sketch_image(
            model_id=SDXL,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt,
            seed=seed,
            width=job.width,
            height=job.height,
            style=job.style,
        )
        if photo_like:
            picture = PILImage.blend(picture, _noise(seed, picture.size), PHOTO_LIKE_NOISE)
        images.append(encode(picture, job.output_format))
    return Response(plan, json.dumps(handler.respond(job, images)).encode("utf-8"))


def _noise(seed: int, size: tuple[int, int]) -> PILImage.Image:
    """Seeded RGB noise, slightly blurred: texture that compresses about as a photograph."""
    rng = random.Random(seed)
    width, height = size
    bands = [
        PILImage.frombytes("L", size, rng.randbytes(width * height)).filter(
            ImageFilter.GaussianBlur(1.5)
        )
        for _ in range(3)
    ]
    return PILImage.merge("RGB", bands)


def new_job(plan: GenerationPlan) -> Job:
    """A pending text-to-image job as the API makes it (app.api.generations)."""
    return Job(
        job_id="job_" + uuid.uuid4().hex,
        tenant_id="tenant_bench",
        user_id="user_bench",
        request_id="req_" + uuid.uuid4().hex,
        kind=catalog.TEXT_TO_IMAGE,
        request={"prompt": plan.prompt, "model": plan.model_id, "size": SIZE},
        plan=plan,
        status=PENDING,
        status_message="queued",
        created_at=utc_now(),
    )


def timed(samples: dict[str, list[tuple[float, float]]], stage: str) -> Callable[[], None]:
    """Starts timing `stage`; the returned function stops it and keeps (cpu ms, wall ms)."""
    cpu, wall = time.thread_time(), time.perf_counter()

    def stop() -> None:
        samples[stage].append(
            ((time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000)
        )

    return stop


def measure_stages(
    svc: Services, response: Response, samples: dict[str, list[tuple[float, float]]]
) -> None:
    """One image through every stage, in the worker's order; each stage timed on its own."""
    plan = response.plan
    (call,) = plan.calls()
    job = new_job(plan)
    svc.repository.add_job(job)
    run_id = "run_" + uuid.uuid4().hex
    assert svc.repository.start_job(job.job_id, run_id, utc_now(), utc_in(600))

    stop = timed(samples, STAGES[0])
    body = json.loads(response.body)
    stop()
    stop = timed(samples, STAGES[1])
    (artifact,) = parse_response(plan, call, body)
    stop()
    stop = timed(samples, STAGES[2])
    with PILImage.open(io.BytesIO(artifact.data)) as image:
        image.load()
        assert image.format in FORMATS and image.size == (plan.width, plan.height)
        fmt, _content_type = FORMATS[image.format]
        stop()
        stop = timed(samples, STAGES[3])
        thumbnail = make_thumbnail(image)
        stop()
    stop = timed(samples, STAGES[4])
    key, thumb_key = image_keys(job, 0, fmt)
    svc.blobs.put(key, artifact.data)
    svc.blobs.put(thumb_key, thumbnail)
    stop()

    # The image record as the worker makes it; it writes the same two files again.
    stop = timed(samples, CHECK)
    record = _store(svc, job, plan, 0, artifact)
    stop()
    stop = timed(samples, STAGES[5])
    assert svc.repository.update_progress(job.job_id, run_id, 99, "1 of 1 images done")
    stop()
    stop = timed(samples, STAGES[6])
    now = utc_now()
    webhook = job_webhook(job, COMPLETED, now)
    assert svc.repository.complete_job(job.job_id, run_id, [record], plan.cost(), now, webhook)
    stop()


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def run_pipeline(svc: Services, responses: list[Response], threads: int) -> tuple[float, float]:
    """Every response through the worker's per-image pipeline on `threads` threads: wall s and
    process CPU s."""
    job = new_job(responses[0].plan)

    def postprocess(index: int) -> None:
        response = responses[index]
        (call,) = response.plan.calls()
        (artifact,) = parse_response(response.plan, call, json.loads(response.body))
        _store(svc, job, response.plan, index, artifact)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        cpu, wall = time.process_time(), time.perf_counter()
        list(pool.map(postprocess, range(len(responses))))
        return time.perf_counter() - wall, time.process_time() - cpu


def stage_table(svc: Services, responses: list[Response]) -> None:
    """Part 1 for one kind of input: times every stage and prints the table."""
    samples: dict[str, list[tuple[float, float]]] = {stage: [] for stage in (*STAGES, CHECK)}
    for response in responses[:WARM_UP]:
        measure_stages(svc, response, samples)
    for values in samples.values():
        values.clear()
    for response in responses[:IMAGES]:
        measure_stages(svc, response, samples)
    print("| stage | CPU median ms | CPU p90 ms | wall median ms |")
    print("|---|---|---|---|")
    for stage in STAGES:
        cpu = [c for c, _ in samples[stage]]
        wall = [w for _, w in samples[stage]]
        print(
            f"| {stage} | {statistics.median(cpu):.2f} | {p90(cpu):.2f} "
            f"| {statistics.median(wall):.2f} |"
        )
    totals = [sum(samples[s][i][0] for s in STAGES) for i in range(IMAGES)]
    walls = [sum(samples[s][i][1] for s in STAGES) for i in range(IMAGES)]
    print(
        f"| **total** (target <= {TARGET_MS:.0f} ms CPU) "
        f"| **{statistics.median(totals):.2f}** | **{p90(totals):.2f}** "
        f"| {statistics.median(walls):.2f} |"
    )
    check = [c for c, _ in samples[CHECK]]
    print()
    print(
        f"Cross-check, worker.jobs._store as one call (decode, verify, thumbnail, both puts, "
        f"the image record's fields): CPU median {statistics.median(check):.2f} ms, "
        f"p90 {p90(check):.2f} ms",
        flush=True,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="imagegen-bench-") as data_dir:
        svc = build_services(Settings.from_env({"IMAGEGEN_DATA_DIR": str(Path(data_dir))}))
        inputs = {
            name: [model_response(svc.settings, i, photo_like) for i in range(PARALLEL_IMAGES)]
            for name, photo_like in INPUTS.items()
        }
        for name, responses in inputs.items():
            sizes = [len(_png(r)) for r in responses]
            bodies = [len(r.body) for r in responses]
            print(
                f"### {name}: {SIZE} PNG median {statistics.median(sizes):,.0f} bytes "
                f"(min {min(sizes):,}, max {max(sizes):,}); response body median "
                f"{statistics.median(bodies):,.0f} bytes"
            )
            print()
            print(f"Per image, one thread, {IMAGES} images (CPU = time.thread_time):")
            stage_table(svc, responses)
            print()

        print(
            f"Whole pipeline (JSON parse, parse_response, _store) over {PARALLEL_IMAGES} images "
            f"on threads of one process; median of {REPEATS} runs:"
        )
        print(
            "| input | threads | wall s | images/s | speed-up vs 1 thread "
            "| process CPU ms per image |"
        )
        print("|---|---|---|---|---|---|")
        for name, responses in inputs.items():
            run_pipeline(svc, responses[:WARM_UP], 1)
            base_rate = 0.0
            for threads in THREADS:
                runs = sorted(
                    (run_pipeline(svc, responses, threads) for _ in range(REPEATS)),
                    key=lambda r: r[0],
                )
                wall_s, cpu_s = runs[len(runs) // 2]
                rate = PARALLEL_IMAGES / wall_s
                base_rate = base_rate or rate
                print(
                    f"| {name} | {threads} | {wall_s:.2f} | {rate:.1f} "
                    f"| {rate / base_rate:.2f}x | {cpu_s / PARALLEL_IMAGES * 1000:.1f} |",
                    flush=True,
                )


def _png(response: Response) -> bytes:
    (call,) = response.plan.calls()
    (artifact,) = parse_response(response.plan, call, json.loads(response.body))
    return artifact.data


if __name__ == "__main__":
    main()
