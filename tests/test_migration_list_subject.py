"""0009_list_subject: each list's subject string becomes a type and an id (or country)."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

APP = "saleor_personalization"
AFTER = [(APP, "0009_list_subject")]
T0 = datetime(2026, 11, 1, tzinfo=UTC)

# (kind, subject, channel) as the list code wrote them before, and the key each becomes.
OLD_ROWS = {
    ("personal", "17850", ""): ("customer", 17850, ""),
    ("similar", "123", ""): ("product", 123, ""),
    ("bought_together", "124", ""): ("product", 124, ""),
    ("trending", "", "c"): ("none", 0, ""),
    ("trending", "7", "c"): ("category", 7, ""),
    ("popular", "", "c"): ("none", 0, ""),
    ("popular", "GB", "c"): ("country", 0, "GB"),
    ("popular", "", ""): ("none", 0, ""),
    ("reorder", "", ""): ("none", 0, ""),
}


def _executor() -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor


def _migrate(target):
    executor = _executor()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_subjects_are_split_and_the_lists_kept():
    # The migration this one follows, whatever it is called after merges.
    before = sorted(_executor().loader.graph.node_map[AFTER[0]].parents)
    old = _migrate([(parent.key[0], parent.key[1]) for parent in before])
    try:
        lists = old.get_model(APP, "RecommendationList")
        for k, (kind, subject, channel) in enumerate(OLD_ROWS):
            lists.objects.create(
                kind=kind,
                subject=subject,
                channel=channel,
                items=[{"product_id": k + 1, "score": 0.5, "reason": "kept"}],
                generated_at=T0,
            )
        # Nothing the list code ever wrote: it cannot be keyed, and is dropped.
        lists.objects.create(kind="similar", subject="p:9", items=[], generated_at=T0)

        new = _migrate(AFTER)

        found = {
            (row.kind, row.subject_type, row.subject_id, row.country, row.channel): row.entries
            for row in new.get_model(APP, "RecommendationList").objects.all()
        }
        expected = {
            (kind, *key, channel): [{"product_id": k + 1, "score": 0.5, "reason": "kept"}]
            for k, ((kind, _, channel), key) in enumerate(OLD_ROWS.items())
        }
        assert found == expected

        # And back: the old strings again, for a rollback of the plugin.
        old = _migrate([(parent.key[0], parent.key[1]) for parent in before])
        restored = set(
            old.get_model(APP, "RecommendationList").objects.values_list(
                "kind", "subject", "channel"
            )
        )
        assert restored == set(OLD_ROWS)
    finally:
        _migrate(_executor().loader.graph.leaf_nodes(APP))
