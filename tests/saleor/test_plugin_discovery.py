"""The plugin is found through its entry point and configured like any Saleor plugin."""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402

from saleor_personalization.saleor_adapter.configuration import PLUGIN_ID  # noqa: E402

PLUGINS_QUERY = """
query {
  plugins(first: 100) {
    edges {
      node {
        id
        name
        globalConfiguration { active configuration { name value type label helpText } }
      }
    }
  }
}
"""


def test_entry_point_adds_the_app_and_the_plugin():
    assert "saleor_personalization" in settings.INSTALLED_APPS
    assert "saleor_personalization.saleor_adapter.plugin.PersonalizationPlugin" in settings.EXTERNAL_PLUGINS


@pytest.mark.django_db
def test_plugins_query_lists_the_plugin_with_its_configuration(
    staff_api_client, permission_manage_plugins
):
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    response = staff_api_client.post_graphql(PLUGINS_QUERY)
    content = response.json()
    assert "errors" not in content, content
    nodes = {edge["node"]["id"]: edge["node"] for edge in content["data"]["plugins"]["edges"]}
    node = nodes[PLUGIN_ID]
    assert node["name"] == "Personalization"
    assert node["globalConfiguration"]["active"] is False
    fields = {item["name"]: item for item in node["globalConfiguration"]["configuration"]}
    assert fields["trackingEnabled"]["type"] == "BOOLEAN"
    assert fields["trackingEnabled"]["value"] == "true"
    assert fields["recommendationsRetrainHours"]["type"] == "STRING"
    assert fields["recommendationsRetrainHours"]["value"] == "24"
    assert fields["model_status"]["type"] == "OUTPUT"
    assert fields["recommendationsListSize"]["helpText"]


PLUGIN_UPDATE = """
mutation update($id: ID!, $input: PluginUpdateInput!) {
  pluginUpdate(id: $id, input: $input) {
    plugin { globalConfiguration { active configuration { name value } } }
    errors { field code message }
  }
}
"""


@pytest.mark.django_db
def test_admin_activates_and_configures_it(staff_api_client, permission_manage_plugins):
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    variables = {
        "id": PLUGIN_ID,
        "input": {
            "active": True,
            "configuration": [{"name": "recommendationsListSize", "value": "80"}],
        },
    }
    content = staff_api_client.post_graphql(PLUGIN_UPDATE, variables).json()
    data = content["data"]["pluginUpdate"]
    assert data["errors"] == []
    config = data["plugin"]["globalConfiguration"]
    assert config["active"] is True
    assert {"name": "recommendationsListSize", "value": "80"} in config["configuration"]


@pytest.mark.django_db
def test_invalid_setting_is_refused_with_the_field_named(
    staff_api_client, permission_manage_plugins
):
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    variables = {
        "id": PLUGIN_ID,
        "input": {"configuration": [{"name": "recommendationsListSize", "value": "lots"}]},
    }
    content = staff_api_client.post_graphql(PLUGIN_UPDATE, variables).json()
    (error,) = content["data"]["pluginUpdate"]["errors"]
    assert error["field"] == "recommendationsListSize"
    assert error["code"] == "INVALID"
    assert error["message"] == (
        "Recommendations · Products per precomputed list: 'lots' is not a whole number"
    )
