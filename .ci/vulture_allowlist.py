"""Names vulture cannot see used, each with who uses it. Read by `vulture` (see pyproject.toml).

Only what a framework, the import system or a user's DAG calls belongs here; code that
nothing calls is deleted instead.
"""

_: object

# The import system (PEP 562 module __getattr__/__dir__: lazy exports, lazy macros).
__getattr__
__dir__

# Airflow's authoring API, called from users' DAG files and templates.
_.xcom_pull  # ti.xcom_pull(...)
_.xcom_push
include_prior_dates  # accepted for Airflow compatibility, ignored
_.get_edge_info  # DAG.get_edge_info, Airflow's Label lookup
F  # TypeVar of the @dag decorator
_.branch  # @task.branch
_.has_task  # TaskGroup.has_task
_.call_args  # @task_group call arguments, read back by users' tests
_.call_kwargs
ds_add  # {{ macros.ds_add(ds, 1) }}
ds_format
_.task_states_of  # DagRunResult.task_states_of (docs/architecture.md)
ABSOLUTE  # WeightRule("absolute"), chosen by its value
_.virtualenv  # @task.virtualenv
_.external_python  # @task.external_python
_.branch_virtualenv  # @task.branch_virtualenv
_.branch_external_python  # @task.branch_external_python
_.sensor  # @task.sensor
_.bash  # @task.bash
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY  # WeekDay members

# Jinja2 templates in taskkit/api/templates read these attributes.
_.label_x
_.label_y
_.all_tags
_.at_start
_.ended
_.required
_.default_text

# The REST API's pydantic models (api/schemas.py): fields serialised into responses by name.
_.model_config
_.access_token, _.token_type, _.expires_in, _.codes, _.content, _.dag_runs, _.xcom_entries
_.import_error_id, _.stack_trace, _.latest_heartbeat, _.metadatabase, _.queued_when
_.timetable_summary, _.next_dagrun_logical_date, _.next_dagrun_run_after
_.last_run_id, _.last_run_state, _.git_version, _.operator_name, _.is_mapped
_.__call__  # @task itself (its last overload)

# Shown in the dag-processor's log line (str(report)).
_.deactivated

# Library hooks: SQLAlchemy TypeDecorator, pickle, click, kombu, Celery's pool, sqlite3.
_.impl
_.cache_ok
_.process_bind_param
_.process_result_value
_.persistent_id
_.persistent_load
_.convert
_.on_decode_error
_.body_can_be_buffer
_.signal_safe
_.on_start
_.on_apply
_.shrink
_.isolation_level

# Variables, connections and secrets (Airflow's names, called from users' DAG files).
_.get_uri  # Connection.get_uri()
utcnow  # taskkit.timezone, as airflow.utils.timezone
make_naive
convert_to_utc
coerce_datetime
_.is_encrypted  # /api/v2/connections response field
_.exc_text  # logging.LogRecord attribute, reset so a masked traceback is formatted anew
forget_secrets  # tests reset the process-wide mask registry between cases

# Assets (Airflow's names, called from users' DAG files).
_.multi  # @asset.multi

# Deferral: resume_execution calls the method a deferral names, by name (Airflow's convention).
_.execute_complete  # the deferrable sensors' and TriggerDagRunOperator's resume method

# Several schedulers.
_idle_limit  # a SQLAlchemy "do_connect" listener on a fenced store's engine
_idle  # a SQLAlchemy "checkin" listener on a PostgreSQL engine (engine._ping_when_idle)
_ping  # a SQLAlchemy "checkout" listener on a PostgreSQL engine (engine._ping_when_idle)

# Airflow's operator API, called from users' DAG files.
_.render_template  # context["task"].render_template(...), as Airflow's tutorial calls it
_.for_asset  # inlet_events.for_asset(uri=...), outlet_events.for_asset(name=...) in tasks' code
_.for_asset_alias  # the same for an AssetAlias

# Airflow's `conf` (airflow.configuration), called from users' DAG files.
_.has_option
_.getboolean
_.getint
_.getfloat
_.getsection

# RetryDecision.retry(delay, reason): what a RetryPolicy of a user's own returns.
_.retry
