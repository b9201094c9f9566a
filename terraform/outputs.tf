output "function_name" {
  description = "Name of the Cloud Function (2nd gen)."
  value       = google_cloudfunctions2_function.main.name
}

output "function_url" {
  description = "URL (run.app) the scheduler calls. Reachable only from inside the project (ingress: internal) and with roles/run.invoker."
  value       = google_cloudfunctions2_function.main.service_config[0].uri
}

output "cloud_run_service" {
  description = "Full name of the Cloud Run service that serves the function."
  value       = google_cloudfunctions2_function.main.service_config[0].service
}

output "results_topic_id" {
  description = "The events topic (projects/PROJECT/topics/TOPIC): one CloudEvent per finished operation."
  value       = google_pubsub_topic.events.id
}

output "example_subscription_id" {
  description = "The example pull subscription on the events topic, or null if create_example_subscription is false."
  value       = var.create_example_subscription ? google_pubsub_subscription.example[0].id : null
}

output "dead_letter_topic_id" {
  description = "The example subscription's dead-letter topic, or null if create_example_subscription is false."
  value       = var.create_example_subscription ? google_pubsub_topic.dead_letter[0].id : null
}

output "runtime_service_account_email" {
  description = "Service account the function runs as."
  value       = google_service_account.runtime.email
}

output "invoker_service_account_email" {
  description = "Service account whose OIDC token Cloud Scheduler presents to the function."
  value       = google_service_account.invoker.email
}

output "build_service_account_email" {
  description = "Service account Cloud Build builds the function's image as."
  value       = google_service_account.build.email
}

output "scheduler_job_name" {
  description = "Name of the Cloud Scheduler job that triggers the polls."
  value       = google_cloud_scheduler_job.main.name
}

output "scheduler_job_id" {
  description = "Full name of the Cloud Scheduler job (projects/PROJECT/locations/REGION/jobs/NAME)."
  value       = google_cloud_scheduler_job.main.id
}

output "run_poll_command" {
  description = "Command that triggers a poll now, through the scheduler job."
  value       = "gcloud scheduler jobs run ${google_cloud_scheduler_job.main.name} --location=${var.region} --project=${var.project_id}"
}

output "state_url" {
  description = "STATE_URL the function runs with: the Firestore database and collection of its state. For the command line against the deployed state: export STATE_URL=\"$(terraform -chdir=terraform output -raw state_url)\"."
  value       = local.state_url
}

output "dashboard_id" {
  description = "The Cloud Monitoring dashboard of this deployment (projects/PROJECT_NUMBER/dashboards/ID), named \"NAME: Insights poller\"."
  value       = google_monitoring_dashboard.main.id
}

output "resource_names" {
  description = "Name of each named resource of this deployment, all derived from name: what a second deployment in the project (another name) must not reuse, and does not."
  value = {
    function                 = google_cloudfunctions2_function.main.name
    scheduler_job            = google_cloud_scheduler_job.main.name
    events_topic             = google_pubsub_topic.events.name
    dead_letter_topic        = one(google_pubsub_topic.dead_letter[*].name)
    example_subscription     = one(google_pubsub_subscription.example[*].name)
    dead_letter_subscription = one(google_pubsub_subscription.dead_letter[*].name)
    runtime_service_account  = google_service_account.runtime.account_id
    invoker_service_account  = google_service_account.invoker.account_id
    build_service_account    = google_service_account.build.account_id
    custom_role              = google_project_iam_custom_role.main.role_id
    source_bucket            = google_storage_bucket.main.name
    image_repository         = google_artifact_registry_repository.main.repository_id
    firestore_database       = local.firestore_database_id
    firestore_collection     = local.firestore_collection
    published_events_metric  = google_logging_metric.published_events.name
    detection_latency_metric = google_logging_metric.detection_latency.name
    successful_polls_metric  = google_logging_metric.successful_polls.name
    failed_polls_metric      = google_logging_metric.failed_polls.name
    pending_metric           = google_logging_metric.pending_operations.name
    not_reached_metric       = google_logging_metric.not_reached_operations.name
    oldest_pending_metric    = google_logging_metric.oldest_pending_age.name
    incomplete_metric        = google_logging_metric.incomplete_listings.name
    polls_failing_alert      = google_monitoring_alert_policy.polls_failing.display_name
    no_successful_poll_alert = google_monitoring_alert_policy.no_successful_poll.display_name
    expired_alert            = google_monitoring_alert_policy.expired_operations.display_name
    backlog_alert            = google_monitoring_alert_policy.backlog.display_name
    dashboard                = jsondecode(google_monitoring_dashboard.main.dashboard_json).displayName
  }
}

output "source_bucket_name" {
  description = "Bucket holding the function's source archives."
  value       = google_storage_bucket.main.name
}
