variable "project" {
  description = "Project to deploy the subscriber in: its function, subscription and dead-letter topic."
  type        = string
}

variable "region" {
  description = "Region of the function (and of its source bucket)."
  type        = string
  default     = "us-central1"
}

variable "topic" {
  description = "The poller's events topic: its id in var.project (\"insights-poller-events\"), or its full name (\"projects/P/topics/T\"), possibly in another project."
  type        = string

  validation {
    condition     = can(regex("^(projects/[a-z][-a-z0-9]{4,28}[a-z0-9]/topics/)?[a-zA-Z][-a-zA-Z0-9_.~+%]{2,254}$", var.topic))
    error_message = "topic must be a topic id or projects/PROJECT/topics/TOPIC."
  }
}

variable "name" {
  description = "Name of the function and of the subscription; prefix of the other resources' names."
  type        = string
  default     = "insights-subscriber"

  validation {
    # At most 25 characters: service account ids ("NAME-push") stop at 30.
    condition     = can(regex("^[a-z][a-z0-9-]{0,23}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 25 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "firestore_database" {
  description = "Existing Firestore database (native mode) for the dedupe markers, one document per ce-id."
  type        = string
  default     = "(default)"
}

variable "dedup_collection" {
  description = "Collection of the dedupe markers (DEDUP_COLLECTION)."
  type        = string
  default     = "insights-events-seen"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message the function keeps failing before Pub/Sub moves it to the dead-letter topic (5 to 100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's bounds)."
  }
}

variable "build_service_account" {
  description = "Service account (projects/P/serviceAccounts/EMAIL) Cloud Build builds the function as; null: the project's default build account."
  type        = string
  default     = null
}
