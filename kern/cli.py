"""The ``kern`` command: ``kern db upgrade|current`` and ``kern workflow run|validate|resume``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial

from kern.exceptions import KernError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kern`` command."""
    parser = argparse.ArgumentParser(
        prog="kern", description="Kern: agents, teams and workflows on one session store."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="the session store's schema").add_subparsers(
        dest="db_command", required=True
    )
    for name, help_text in (
        ("upgrade", "apply the migrations this version of Kern needs"),
        ("current", "print the store's schema revision and the one this Kern needs"),
    ):
        sub = db.add_parser(name, help=help_text)
        sub.add_argument("--db-url", required=True, help="sqlite:///path/to.db or postgresql://...")
        sub.add_argument(
            "--table-prefix", default="kern_", help="prefix of Kern's table names (default kern_)"
        )
        sub.add_argument("--db-schema", default=None, help="PostgreSQL schema holding Kern's tables")
        if name == "upgrade":
            sub.add_argument("--revision", default="head", help="target revision (default head)")
    add_workflow_commands(commands.add_parser("workflow", help="run, validate and resume workflows"))
    return parser


def add_workflow_commands(parser: argparse.ArgumentParser) -> None:
    """``kern workflow run|validate|resume``."""
    workflow = parser.add_subparsers(dest="workflow_command", required=True)
    definition = "a workflow YAML file, or module:attr naming a Workflow object"
    db_help = "sqlite:///path.db or postgresql://... (default $KERN_DB_URL, else sqlite:///kern.db)"
    run = workflow.add_parser("run", help="run a workflow: progress on stderr, its output on stdout")
    run.add_argument("file", metavar="FILE", help=definition)
    run.add_argument("--input", required=True, help="the workflow's input text")
    run.add_argument("--session-id", default=None, help="the session to run on (default: a new one)")
    run.add_argument("--user-id", default=None, help="the user the session belongs to")
    run.add_argument("--db", default=None, help=db_help)
    validate = workflow.add_parser("validate", help="check a workflow definition without running it")
    validate.add_argument("file", metavar="FILE", help=definition)
    resume = workflow.add_parser(
        "resume",
        help="continue a failed or interrupted run of the workflow FILE_OR_MODULE",
        description=(
            "Continue a failed or interrupted run: its completed steps are not run again. The workflow is "
            "loaded from FILE_OR_MODULE, never from what the database recorded; the run must be a run of "
            "that workflow (a source recorded under another spelling only warns)."
        ),
    )
    resume.add_argument("run_id", metavar="RUN_ID", help="the run to continue (printed when it started)")
    resume.add_argument("file", metavar="FILE_OR_MODULE", help=definition)
    resume.add_argument("--db", default=None, help=db_help)
    resume.add_argument(
        "--user-id",
        default=None,
        help="the user the run belongs to (default: the workflow's user_id, else none: an anonymous run)",
    )


def db_command(args: argparse.Namespace) -> str:
    """Run ``kern db upgrade|current``; returns what to print."""
    from kern.db._sql.engines import engine_for_url
    from kern.db._sql.executor import in_transaction, storage_errors
    from kern.db._sql.migrate import HEAD_REVISION, current_revision, upgrade
    from kern.db.base import tables_for

    tables = tables_for(args.table_prefix, args.db_schema)
    engine = engine_for_url(args.db_url)
    try:
        with storage_errors(f"kern db {args.db_command}", engine.dialect.name), engine.connect() as conn:
            if args.db_command == "upgrade":
                in_transaction(conn, True, partial(upgrade, tables=tables, revision=args.revision))
            revision = in_transaction(conn, False, partial(current_revision, tables=tables))
    finally:
        engine.dispose()
    return f"current revision: {revision or 'none'} (this Kern needs {HEAD_REVISION})"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kern`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "workflow":
            from kern.workflow._cli import command

            return command(args, sys.stdout, sys.stderr)
        print(db_command(args))
    except KernError as exc:
        print(f"kern: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
