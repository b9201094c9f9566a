# The wiring that matters, every provider mocked (no project, no credentials): `terraform init`
# then `terraform test` in terraform/. The push subscription on the poller's topic POSTs to the
# function's run.app URL as the push account, which alone may invoke it; undeliverable messages go
# to the dead-letter topic, which the Pub/Sub service agent may publish to, acknowledging them on
# the subscription.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

mock_provider "archive" {}

variables {
  project = "my-project"
  topic   = "insights-poller-events"
}

override_resource {
  target = google_cloudfunctions2_function.subscriber
  values = {
    service_config = {
      uri     = "https://insights-subscriber-a1b2c3d4e5-uc.a.run.app"
      service = "projects/my-project/locations/us-central1/services/insights-subscriber"
    }
  }
}

override_resource {
  target = google_service_account.push
  values = {
    email = "insights-subscriber-push@my-project.iam.gserviceaccount.com"
    name  = "projects/my-project/serviceAccounts/insights-subscriber-push@my-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target = google_service_account.runtime
  values = {
    email = "insights-subscriber-run@my-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target = google_pubsub_topic.dead_letter
  values = {
    id = "projects/my-project/topics/insights-subscriber-dead-letter"
  }
}

run "the_push_subscription_feeds_the_function_as_the_push_account" {
  assert {
    condition     = google_pubsub_subscription.subscriber.topic == "projects/my-project/topics/insights-poller-events"
    error_message = "A topic id must be read as a topic of var.project."
  }

  assert {
    condition     = google_pubsub_subscription.subscriber.push_config[0].push_endpoint == "https://insights-subscriber-a1b2c3d4e5-uc.a.run.app"
    error_message = "The subscription must push to the function's run.app URL (service_config[0].uri), which internal ingress admits."
  }

  assert {
    condition     = google_pubsub_subscription.subscriber.push_config[0].oidc_token[0].service_account_email == "insights-subscriber-push@my-project.iam.gserviceaccount.com"
    error_message = "The push requests must carry a token of the push account."
  }

  assert {
    condition = alltrue([
      google_cloud_run_v2_service_iam_member.push_invoker.name == "projects/my-project/locations/us-central1/services/insights-subscriber",
      google_cloud_run_v2_service_iam_member.push_invoker.role == "roles/run.invoker",
      google_cloud_run_v2_service_iam_member.push_invoker.member == "serviceAccount:insights-subscriber-push@my-project.iam.gserviceaccount.com",
    ])
    error_message = "The push account, and only it, must invoke the function's Cloud Run service."
  }

  assert {
    condition     = google_pubsub_subscription.subscriber.ack_deadline_seconds > google_cloudfunctions2_function.subscriber.service_config[0].timeout_seconds
    error_message = "The ack deadline (how long Pub/Sub waits for the answer) must exceed the function's timeout."
  }

  assert {
    condition     = google_cloudfunctions2_function.subscriber.service_config[0].ingress_settings == "ALLOW_INTERNAL_ONLY"
    error_message = "The function must be reachable from inside the project only."
  }
}

run "undeliverable_messages_go_to_the_dead_letter_topic" {
  assert {
    condition = alltrue([
      google_pubsub_subscription.subscriber.dead_letter_policy[0].dead_letter_topic == "projects/my-project/topics/insights-subscriber-dead-letter",
      google_pubsub_subscription.subscriber.dead_letter_policy[0].max_delivery_attempts == 10,
      google_pubsub_subscription.dead_letter.topic == "projects/my-project/topics/insights-subscriber-dead-letter",
    ])
    error_message = "The subscription must dead-letter to the dead-letter topic, which a subscription keeps."
  }

  assert {
    condition = alltrue([
      google_pubsub_topic_iam_member.dead_letter_publisher.topic == "insights-subscriber-dead-letter",
      google_pubsub_topic_iam_member.dead_letter_publisher.role == "roles/pubsub.publisher",
      google_pubsub_topic_iam_member.dead_letter_publisher.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com",
    ])
    error_message = "The Pub/Sub service agent must publish to the dead-letter topic."
  }

  assert {
    condition = alltrue([
      google_pubsub_subscription_iam_member.dead_letter_subscriber.subscription == "insights-subscriber",
      google_pubsub_subscription_iam_member.dead_letter_subscriber.role == "roles/pubsub.subscriber",
      google_pubsub_subscription_iam_member.dead_letter_subscriber.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com",
    ])
    error_message = "The Pub/Sub service agent must acknowledge forwarded messages on the subscription."
  }

  assert {
    condition = alltrue([
      google_service_account_iam_member.push_token_creator.service_account_id == "projects/my-project/serviceAccounts/insights-subscriber-push@my-project.iam.gserviceaccount.com",
      google_service_account_iam_member.push_token_creator.role == "roles/iam.serviceAccountTokenCreator",
    ])
    error_message = "The token creator grant must be on the push account only."
  }
}

run "the_function_runs_as_the_runtime_account_with_its_grants" {
  assert {
    condition     = google_cloudfunctions2_function.subscriber.service_config[0].service_account_email == "insights-subscriber-run@my-project.iam.gserviceaccount.com"
    error_message = "The function must run as the runtime account."
  }

  assert {
    condition = alltrue([
      google_project_iam_member.runtime_issue_model_deployer.member == "serviceAccount:insights-subscriber-run@my-project.iam.gserviceaccount.com",
      google_project_iam_member.runtime_firestore_user.member == "serviceAccount:insights-subscriber-run@my-project.iam.gserviceaccount.com",
      google_project_iam_member.runtime_firestore_user.condition[0].expression == "resource.name == \"projects/my-project/databases/(default)\"",
    ])
    error_message = "The runtime account must hold the issue model role and Firestore on the markers' database only."
  }

  assert {
    condition = alltrue([
      google_cloudfunctions2_function.subscriber.service_config[0].environment_variables["FIRESTORE_DATABASE"] == "(default)",
      google_cloudfunctions2_function.subscriber.service_config[0].environment_variables["DEDUP_COLLECTION"] == google_firestore_field.marker_expiry.collection,
      google_firestore_field.marker_expiry.field == "expireAt",
    ])
    error_message = "The TTL policy must be on the collection the function writes its markers to."
  }
}

run "a_topic_name_is_taken_as_it_is" {
  command = plan

  variables {
    topic = "projects/poller-project/topics/insights-poller-events"
  }

  assert {
    condition     = google_pubsub_subscription.subscriber.topic == "projects/poller-project/topics/insights-poller-events"
    error_message = "A full topic name (another project's, say) must be used as given."
  }
}

run "a_name_too_long_for_the_service_accounts_is_refused" {
  command = plan

  variables {
    name = "a-subscriber-name-too-long"
  }

  expect_failures = [var.name]
}
