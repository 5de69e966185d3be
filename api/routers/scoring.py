"""Scoring with a registered model: ``POST /score`` starts the batch ``score`` flow (an async job, watched
and cancelled through the jobs routes), ``POST /predict/{family}`` answers rows online from a model held
in this process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError

from api.deps import TRAIN, GatewayDep, Trainer
from api.predictors import Predictors
from api.responses import AUTHED, errors
from api.schemas import MAX_PREDICT_ROWS, PredictPublic, PredictRequest, ScoreRequest, TrainResponse
from trainyard.datasets.registry import resolve_request
from trainyard.datasets.rows import check_records
from trainyard.errors import DatasetError, ModelNotFoundError, SchemaValidationError, SpecChangedError
from trainyard.params import ScoreParams
from trainyard.registry import audit
from trainyard.registry.aliases import ALIAS_PATTERN
from trainyard.registry.audit import Action
from trainyard.scoring import ModelRef, Scorer, alias_scope, predict
from trainyard.settings import get_settings

router = APIRouter(tags=["scoring"])
SCORE_JOB = "score"


def get_predictors(request: Request) -> Predictors:
    return request.app.state.predictors


PredictorsDep = Annotated[Predictors, Depends(get_predictors)]


def _invalid(field: tuple[str, ...], message: str, value: object) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": field, "msg": message, "input": value}])


@contextmanager
def _as_http(model_field: tuple[str, ...]) -> Iterator[None]:
    """A scoring error as its HTTP answer: unknown model 404, changed spec 409, a bad dataset 422."""
    try:
        yield
    except ModelNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except SpecChangedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:  # a malformed model reference
        raise _invalid(model_field, str(exc), None) from None


@router.post("/score", response_model=TrainResponse, status_code=202, dependencies=[Depends(TRAIN)],
             responses=errors(400, 404, 409, *AUTHED))  # fmt: skip
def start_scoring(body: ScoreRequest, gateway: GatewayDep, predictors: PredictorsDep, user: Trainer) -> TrainResponse:
    """Score a table with a registered model as a Prefect flow run (deployment ``score/score``): the job's
    status, logs and cancel are the jobs routes'; its predictions file is in ``scoring`` once done."""
    for field in ("dataset", "alias_dataset"):
        if (requested := getattr(body, field)) is not None:
            try:
                resolve_request(requested)
            except DatasetError as exc:
                raise _invalid(("body", field), str(exc), None) from None
    with _as_http(("body", "model")):
        ref = ModelRef.parse(body.model)
        predictors.get(ref, alias_scope(ref, body.dataset, body.alias_dataset))  # 404/409 now; the model warms
    params = ScoreParams(**body.model_dump(), requested_by=user.username)
    job = gateway.trigger(SCORE_JOB, {"params": params.model_dump(mode="json")}, None)
    audit.record(Action.RUN_STARTED, actor=user.username, target=job.id,
                 detail={"job_type": SCORE_JOB, "model": body.model, "dataset": body.dataset})  # fmt: skip
    ui = get_settings().prefect_ui_url
    return TrainResponse(job_id=job.id, status=job.status, model_type=SCORE_JOB, message=f"Scoring {body.dataset} "
                         f"with {body.model}", prefect_ui_url=f"{ui}/runs/flow-run/{job.id}")  # fmt: skip


@router.post("/predict/{family}", response_model=PredictPublic, dependencies=[Depends(TRAIN)],
             responses=errors(400, 404, 409, 413, *AUTHED))  # fmt: skip
def predict_rows(
    family: str, body: PredictRequest, predictors: PredictorsDep, _user: Trainer,
    version: Annotated[str | None, Query(max_length=64, description="A registered version (default: an alias)")] = None,
    alias: Annotated[str | None, Query(pattern=ALIAS_PATTERN, description="Default: champion")] = None,
    dataset: Annotated[str | None, Query(max_length=1024, description="Whose alias (aliases are per dataset); "
                                         "needed when the alias is held on several")] = None,
) -> PredictPublic:  # fmt: skip
    """Predict up to 1000 rows (``MAX_PREDICT_ROWS``) with a registered model (the ``champion`` by default):
    labels and class probabilities, or values for regression, and the version that answered."""
    if len(body.rows) > MAX_PREDICT_ROWS:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                            f"{len(body.rows)} rows; a prediction takes at most {MAX_PREDICT_ROWS} (POST /score "
                            "scores a whole table)")  # fmt: skip
    if version is not None and alias is not None:
        raise _invalid(("query", "version"), "give a version or an alias, not both", version)
    text = f"{family}:{version}" if version is not None else f"{family}@{alias or 'champion'}"
    with _as_http(("path", "family")):
        ref = ModelRef.parse(text)
        try:
            scorer = predictors.get(ref, dataset)
        except DatasetError as exc:
            raise _invalid(("query", "dataset"), str(exc), dataset) from None
    return _answer(scorer, body)


def _answer(scorer: Scorer, body: PredictRequest) -> PredictPublic:
    try:
        frame = check_records(scorer.spec, body.rows)
    except SchemaValidationError as exc:
        raise RequestValidationError([{"type": "schema", "loc": ("body", "rows"), "msg": str(exc),
                                       "input": None}]) from None  # fmt: skip
    predicted, proba = predict(scorer, frame)
    probabilities = None
    if proba is not None:
        labels = [str(label) for label in scorer.classes]
        probabilities = [dict(zip(labels, map(float, row), strict=True)) for row in proba]
    return PredictPublic(model_type=scorer.model.model_type, model_version=scorer.model.version,
                         dataset=scorer.spec.kind, task="regression" if scorer.is_regression else "classification",
                         predictions=predicted.tolist(), probabilities=probabilities)  # fmt: skip
