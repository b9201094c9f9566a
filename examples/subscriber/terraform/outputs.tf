output "function_name" {
  description = "Name of the Cloud Function (2nd gen)."
  value       = google_cloudfunctions2_function.subscriber.name
}

output "function_uri" {
  description = "URL (run.app) the push subscription POSTs to: internal ingress, roles/run.invoker required."
  value       = google_cloudfunctions2_function.subscriber.service_config[0].uri
}

output "subscription_id" {
  description = "The push subscription on the poller's events topic."
  value       = google_pubsub_subscription.subscriber.id
}

output "dead_letter_topic_id" {
  description = "Where messages go after var.max_delivery_attempts failed deliveries."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription_id" {
  description = "Pull subscription that keeps the dead letters for 7 days."
  value       = google_pubsub_subscription.dead_letter.id
}

output "runtime_service_account_email" {
  description = "Service account the function runs as."
  value       = google_service_account.runtime.email
}

output "push_service_account_email" {
  description = "Service account whose OIDC token the push subscription presents to the function."
  value       = google_service_account.push.email
}

output "pull_dead_letters_command" {
  description = "Command that shows (and acknowledges) up to 10 dead letters."
  value       = "gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --project=${var.project} --limit=10 --auto-ack"
}
