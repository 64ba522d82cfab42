"""Triggers: small asyncio waits that the triggerer runs for deferred tasks (Airflow's set).

`base` holds BaseTrigger and TriggerEvent; `temporal`, `file` and
`external_task` the standard triggers. Each is imported by its class path in
the triggerer, so a custom trigger must live in an importable module (the
DAGs folder is on the triggerer's import path).
"""
