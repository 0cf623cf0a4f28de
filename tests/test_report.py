"""The run summary the CLI and the demo print."""

from saleor_personalization.recommender.report import COLUMNS, metrics_table

SCORES = dict.fromkeys(COLUMNS, 0.5)


def test_the_live_model_row_shows_no_auc_it_never_computed():
    """Found on a running shop: the live rows printed AUC 0.000, a figure nobody measured."""
    lines = metrics_table(
        {
            "all": SCORES,
            "new": SCORES,
            "live": {"all": {**SCORES, "auc": 0.0}, "new": SCORES, "source": "refitted"},
        }
    )
    auc = COLUMNS.index("auc")
    cells = {line[:22].strip(): line[22:].split() for line in lines[2:] if line[:22].strip()}
    assert cells["buy again (all)"][auc] == "0.500"
    assert cells["live: buy again (all)"][auc] == "-"
    assert cells["live: for you (new)"][auc] == "-"
    assert cells["live: buy again (all)"][COLUMNS.index("ndcg")] == "0.500"
