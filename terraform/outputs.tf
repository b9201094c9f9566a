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
  description = "STATE_URL the function runs with: the Firestore database and collection of its state."
  value       = local.state_url
}

output "source_bucket_name" {
  description = "Bucket holding the function's source archives."
  value       = google_storage_bucket.main.name
}
