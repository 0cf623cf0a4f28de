"""pytest plugin for the Saleor integration run (``-p tests.saleor.saleor_pytest_plugin``).

Saleor keeps its fixtures and test-database set-up in its repository-root
``conftest.py``, which is not part of the installed package; this plugin does the
same set-up for our tests once pytest-django has set Django up: both database aliases
in every test case, the replica mirrored onto the writer, and Saleor's fixture modules.
"""

SALEOR_FIXTURE_MODULES = [
    "saleor.tests.fixtures",
    "saleor.app.tests.fixtures",
    "saleor.plugins.tests.fixtures",
    "saleor.graphql.tests.fixtures",
    "saleor.webhook.tests.fixtures",
    "saleor.tax.tests.fixtures",
    "saleor.channel.tests.fixtures",
    "saleor.page.tests.fixtures",
    "saleor.menu.tests.fixtures",
    "saleor.warehouse.tests.fixtures",
    "saleor.thumbnail.tests.fixtures",
    "saleor.order.tests.fixtures",
    "saleor.product.tests.fixtures",
    "saleor.site.tests.fixtures",
    "saleor.shipping.tests.fixtures",
    "saleor.permission.tests.fixtures",
    "saleor.giftcard.tests.fixtures",
    "saleor.discount.tests.fixtures",
    "saleor.checkout.tests.fixtures",
    "saleor.attribute.tests.fixtures",
    "saleor.account.tests.fixtures",
    "saleor.graphql.account.tests.fixtures",
    "saleor.payment.tests.fixtures",
    "saleor.webhook.tests.circuit_breaker.fixtures",
]


def pytest_configure(config):
    import django.test
    from django.conf import settings
    from saleor.tests.utils import prepare_test_db_connections

    databases = {
        settings.DATABASE_CONNECTION_DEFAULT_NAME,
        settings.DATABASE_CONNECTION_REPLICA_NAME,
    }
    django.test.TransactionTestCase.databases = databases
    django.test.TestCase.databases = databases
    prepare_test_db_connections()
    for module in SALEOR_FIXTURE_MODULES:
        config.pluginmanager.import_plugin(module)
