# Two deployments in one project, side by side: e.g. one shard per Insights location, each with
# its own name (and its own state: backend.tf.example). Every name a deployment gives a resource
# of the project derives from var.name, so two names must share none, and each gets its own
# Firestore database and STATE_URL. Every provider is mocked (see ../README.md, "Checks").
#
# Each shard is one run of the root configuration with its own variables, planned from empty
# state, the second compared with the first's outputs (run.us): how the shards are deployed
# (one root configuration, one state each). A helper configuration calling the root module twice
# would not do: the root configures its own provider "google" (versions.tf), and mock_provider
# replaces only the configurations of the module under test, not those of modules it calls, so
# the nested ones would be planned by the real (here: schema-only) provider.

mock_provider "google" {
  source = "./tests/mocks"
}

mock_provider "archive" {}

mock_provider "time" {}

variables {
  project_id = "my-project"
}

run "us" {
  command = plan

  variables {
    name               = "insights-us"
    insights_locations = ["us-central1"]
  }

  assert {
    condition     = output.state_url == "firestore://insights-us/insights-us"
    error_message = "The shard's state is its own database and collection, named after it, not ${output.state_url}."
  }

  assert {
    condition     = alltrue([for key, name in output.resource_names : name != null && (strcontains(name, "insights-us") || strcontains(name, "insights_us"))])
    error_message = "Every name of the shard must derive from its name: ${jsonencode(output.resource_names)}."
  }
}

run "eu" {
  command = plan

  variables {
    name               = "insights-eu"
    region             = "europe-west1"
    insights_locations = ["europe-west1", "europe-west2"]
  }

  assert {
    condition     = length(setintersection(toset(values(output.resource_names)), toset(values(run.us.resource_names)))) == 0
    error_message = "Two shards must share no name: ${jsonencode(setintersection(toset(values(output.resource_names)), toset(values(run.us.resource_names))))}."
  }

  assert {
    condition     = output.state_url != run.us.state_url && google_cloudfunctions2_function.main.service_config[0].environment_variables["STATE_URL"] == output.state_url
    error_message = "Each shard's function must keep its state apart from the other's."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["INSIGHTS_LOCATIONS"] == "europe-west1,europe-west2"
    error_message = "Each shard watches its own locations."
  }

  assert {
    condition     = google_project_iam_member.runtime_firestore_user.condition[0].expression == "resource.name == \"projects/my-project/databases/insights-eu\""
    error_message = "Each shard's runtime account reaches its own database only."
  }

  assert {
    condition = alltrue([
      google_logging_metric.published_events.filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"insights-eu\" AND jsonPayload.eventId:* AND severity=INFO",
      strcontains(google_logging_metric.pending_operations.filter, "resource.labels.service_name=\"insights-eu\""),
    ])
    error_message = "Each shard's metrics count its own function's logs only."
  }
}

# Shards sharing one existing database keep apart by collection (it also holds the watch start
# and cursors), named after them unless set.
run "eu_in_a_shared_database" {
  command = plan

  variables {
    name                      = "insights-eu"
    create_firestore_database = false
    firestore_database_id     = "(default)"
  }

  assert {
    condition     = output.state_url == "firestore:///insights-eu"
    error_message = "A shard in the (default) database keeps its state in its own collection, not ${output.state_url}."
  }
}

# The longest name gives the longest service account ID, NAME-invoker: 28 characters of 30.
run "longest_name" {
  command = plan

  variables {
    name = "a-twenty-char-name-x"
  }

  assert {
    condition = alltrue([
      for account in [google_service_account.runtime, google_service_account.invoker, google_service_account.build] :
      length(account.account_id) >= 6 && length(account.account_id) <= 30
    ])
    error_message = "Every service account ID must have 6-30 characters."
  }

  assert {
    condition     = length(google_storage_bucket.main.name) <= 63 && length(google_firestore_database.main[0].name) <= 63
    error_message = "The bucket and database names must fit their 63 characters."
  }
}

# A name of 3 characters is shorter than a Firestore database ID may be (4-63).
run "shortest_name" {
  command = plan

  variables {
    name = "abc"
  }

  assert {
    condition     = google_firestore_database.main[0].name == "abc-state" && output.state_url == "firestore://abc-state/abc"
    error_message = "A 3-character name's database is NAME-state, not ${google_firestore_database.main[0].name}."
  }

  assert {
    condition     = length(google_service_account.runtime.account_id) >= 6
    error_message = "The shortest account ID, NAME-run, must have at least 6 characters."
  }
}

run "name_too_long" {
  command = plan

  variables {
    name = "a-twenty-one-char-nam"
  }

  expect_failures = [var.name]
}
