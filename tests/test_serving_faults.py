"""A database fault inside serving answers with nothing and never breaks the request.

The fault is real: another connection holds an exclusive lock on the interaction log
and serving's first query gives up after a short lock timeout. Inside a transaction
(Saleor's request or a test) serving must roll back only its own savepoint, so the
queries Saleor runs next still work; in autocommit, where a storefront request
usually is, there is nothing to roll back and no transaction is opened.
"""

from contextlib import nullcontext

import psycopg
import pytest
from django.db import connection, transaction

from saleor_personalization.configuration import PersonalizationConfig
from saleor_personalization.models import Interaction, RecommendationList
from saleor_personalization.recommender import serving

CHANNEL = "fault-channel"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "transaction"])
def test_a_locked_table_answers_nothing_and_the_connection_goes_on(in_transaction, caplog):
    params = connection.get_connection_params()
    locker = psycopg.connect(
        dbname=params["dbname"],
        host=params.get("host"),
        port=params.get("port"),
        user=params.get("user"),
        password=params.get("password"),
    )
    try:
        locker.execute(f"LOCK TABLE {Interaction._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        with transaction.atomic() if in_transaction else nullcontext():
            items = serving.personalized(
                serving.Shopper(anonymous_id="s:fault"), CHANNEL, 5, PersonalizationConfig()
            )
            assert items == []
            # What the request does next still runs on this connection.
            assert RecommendationList.objects.count() == 0
        assert "Serving personalized failed" in caplog.text
    finally:
        locker.rollback()
        locker.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
