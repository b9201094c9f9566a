# The wiring that matters, on applied (mocked) resources: the scheduler calls the function's
# run.app URL with a token for that URL, the function runs as the runtime account, a code change
# uploads (and deploys) a new source object, and no grant reaches the public. Computed values the
# assertions compare are given known values below; every provider is mocked (see ../README.md,
# "Checks").

mock_provider "google" {
  source = "./tests/mocks"
}

mock_provider "archive" {}

mock_provider "time" {}

variables {
  project_id = "my-project"
}

override_resource {
  target = google_cloudfunctions2_function.main
  values = {
    service_config = {
      uri     = "https://insights-poller-a1b2c3d4e5-uc.a.run.app"
      service = "projects/my-project/locations/us-central1/services/insights-poller"
    }
  }
}

override_resource {
  target = google_service_account.runtime
  values = {
    email = "insights-poller-run@my-project.iam.gserviceaccount.com"
    id    = "projects/my-project/serviceAccounts/insights-poller-run@my-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target = google_service_account.invoker
  values = {
    email = "insights-poller-invoker@my-project.iam.gserviceaccount.com"
    id    = "projects/my-project/serviceAccounts/insights-poller-invoker@my-project.iam.gserviceaccount.com"
  }
}

override_resource {
  target = google_service_account.build
  values = {
    email = "insights-poller-build@my-project.iam.gserviceaccount.com"
    id    = "projects/my-project/serviceAccounts/insights-poller-build@my-project.iam.gserviceaccount.com"
  }
}

override_data {
  target = data.archive_file.main
  values = {
    output_md5 = "0123456789abcdef0123456789abcdef"
  }
}

run "scheduler_calls_the_function_as_the_invoker" {
  assert {
    condition     = google_cloud_scheduler_job.main.http_target[0].oidc_token[0].audience == google_cloudfunctions2_function.main.service_config[0].uri
    error_message = "The OIDC token's audience must be the function's run.app URL (service_config[0].uri), not ${google_cloud_scheduler_job.main.http_target[0].oidc_token[0].audience}."
  }

  assert {
    condition     = google_cloud_scheduler_job.main.http_target[0].oidc_token[0].audience == "https://insights-poller-a1b2c3d4e5-uc.a.run.app"
    error_message = "The audience must be the (overridden) run.app URL itself."
  }

  assert {
    condition     = google_cloud_scheduler_job.main.http_target[0].uri == google_cloudfunctions2_function.main.service_config[0].uri
    error_message = "The scheduler must call the run.app URL, which internal-only ingress admits."
  }

  assert {
    condition     = google_cloud_scheduler_job.main.http_target[0].oidc_token[0].service_account_email == google_service_account.invoker.email
    error_message = "The scheduler's token must be the invoker account's."
  }

  assert {
    condition     = google_cloud_run_v2_service_iam_member.main.name == google_cloudfunctions2_function.main.service_config[0].service && google_cloud_run_v2_service_iam_member.main.role == "roles/run.invoker"
    error_message = "roles/run.invoker must be granted on the Cloud Run service that serves the function."
  }

  assert {
    condition     = google_cloud_run_v2_service_iam_member.main.member == "serviceAccount:insights-poller-invoker@my-project.iam.gserviceaccount.com"
    error_message = "Only the invoker account may invoke the function."
  }
}

run "function_runs_as_the_runtime_account" {
  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].service_account_email == google_service_account.runtime.email
    error_message = "The function must run as the runtime account, not ${google_cloudfunctions2_function.main.service_config[0].service_account_email}."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].service_account_email == "insights-poller-run@my-project.iam.gserviceaccount.com"
    error_message = "The function must run as insights-poller-run."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.build_config[0].service_account == google_service_account.build.id
    error_message = "Cloud Build must build the function as the build account."
  }

  assert {
    condition = alltrue([
      google_project_iam_member.runtime_insights_operations_reader.member == "serviceAccount:${google_service_account.runtime.email}",
      google_project_iam_member.runtime_firestore_user.member == "serviceAccount:${google_service_account.runtime.email}",
      google_pubsub_topic_iam_member.runtime_events_publisher.member == "serviceAccount:${google_service_account.runtime.email}",
    ])
    error_message = "The runtime account must hold the function's grants."
  }
}

run "source_object_named_after_the_archive" {
  assert {
    condition     = google_storage_bucket_object.main.name == "function-source-0123456789abcdef0123456789abcdef.zip"
    error_message = "The source object must be named after the archive's MD5, not ${google_storage_bucket_object.main.name}."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.build_config[0].source[0].storage_source[0].object == google_storage_bucket_object.main.name && google_cloudfunctions2_function.main.build_config[0].source[0].storage_source[0].bucket == google_storage_bucket.main.name
    error_message = "The function must be built from the uploaded source object."
  }

  assert {
    condition     = contains([for source in data.archive_file.main.source : source.filename], "main.py") && contains([for source in data.archive_file.main.source : source.filename], "requirements.txt")
    error_message = "The archive must hold main.py and requirements.txt."
  }

  assert {
    condition     = contains([for source in data.archive_file.main.source : source.filename], "insights_poller/settings.json")
    error_message = "The archive must hold the settings declaration the code reads."
  }

  assert {
    condition     = alltrue([for source in data.archive_file.main.source : contains(["main.py", "requirements.txt"], source.filename) || startswith(source.filename, "insights_poller/")])
    error_message = "The archive must hold only main.py, requirements.txt and the poller package."
  }
}

# Same state, changed code: the archive's hash changes, so does the object's name, so the
# function is rebuilt from the new object.
run "changed_code_uploads_a_new_source_object" {
  override_data {
    target = data.archive_file.main
    values = {
      output_md5 = "fedcba9876543210fedcba9876543210"
    }
  }

  assert {
    condition     = google_storage_bucket_object.main.name == "function-source-fedcba9876543210fedcba9876543210.zip"
    error_message = "A changed archive must be uploaded under a new name, not ${google_storage_bucket_object.main.name}."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.build_config[0].source[0].storage_source[0].object == "function-source-fedcba9876543210fedcba9876543210.zip"
    error_message = "The function must be rebuilt from the new source object."
  }
}

run "no_grant_to_the_public" {
  assert {
    condition = alltrue([
      for member in concat(
        [
          google_project_iam_member.runtime_insights_operations_reader.member,
          google_project_iam_member.runtime_firestore_user.member,
          google_project_iam_member.build_log_writer.member,
          google_project_iam_member.build_source_reader.member,
          google_pubsub_topic_iam_member.runtime_events_publisher.member,
          google_cloud_run_v2_service_iam_member.main.member,
          google_artifact_registry_repository_iam_member.main.member,
          google_storage_bucket_iam_member.main.member,
        ],
        google_pubsub_topic_iam_member.dead_letter_publisher[*].member,
        google_pubsub_subscription_iam_member.main[*].member,
        [for grant in google_pubsub_topic_iam_member.events_subscribers : grant.member],
      ) : !contains(["allUsers", "allAuthenticatedUsers"], member) && startswith(member, "serviceAccount:")
    ])
    error_message = "Every IAM member must be a service account: none may be allUsers or allAuthenticatedUsers."
  }

  assert {
    condition     = length(google_pubsub_topic_iam_member.dead_letter_publisher) == 1 && length(google_pubsub_subscription_iam_member.main) == 1
    error_message = "The list above must include the service agent's grants (created by default)."
  }
}
