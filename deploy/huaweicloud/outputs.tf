output "upload_bucket" {
  description = "Upload files here (obsutil cp FILE obs://BUCKET/KEY, or the console)."
  value       = local.upload_bucket
}

output "artifacts_bucket" {
  description = "The function zip (code/), results too large for the queue (results/), failed invocations (failed-invocations/)."
  value       = huaweicloud_obs_bucket.artifacts.bucket
}

output "recognize_function_urn" {
  description = "URN of the recognize function."
  value       = huaweicloud_fgs_function.functions["recognize"].urn
}

output "redrive_function_urn" {
  description = "URN of the redrive function: invoke it with {\"codes\": [\"OCRFLOW.BUDGET_EXCEEDED\"]} once a cause is fixed."
  value       = huaweicloud_fgs_function.functions["redrive"].urn
}

output "function_agency" {
  description = "The functions' agency (OCR, OBS, Cloud Eye): no access key exists for it."
  value       = huaweicloud_identity_agency.function.name
}

output "failure_destination" {
  description = "Where an upload whose invocation failed after every retry is kept."
  value       = var.failure_destination == "OBS" ? "obs://${huaweicloud_obs_bucket.artifacts.bucket}/${local.failed_path}" : local.alarm_topic_urn
}

output "result_queue_url" {
  description = "RESULT_QUEUE_URL: read it with `ocrflow queue dump URL` (from inside the VPC for DCS and DMS)."
  value       = local.queue_urls.result
  sensitive   = true
}

output "failure_queue_url" {
  description = "FAILURE_QUEUE_URL (empty: the result queue's URL with its default failure queue)."
  value       = local.failure_queue_url
  sensitive   = true
}

output "log_group_id" {
  description = "LTS log group of the functions (stream <name>-functions)."
  value       = huaweicloud_lts_group.functions.id
}

output "log_stream_id" {
  description = "LTS log stream of the functions."
  value       = huaweicloud_lts_stream.functions.id
}

output "alarm_topic_urn" {
  description = "SMN topic of the alarms."
  value       = local.alarm_topic_urn
}

output "metrics_namespace" {
  description = "Cloud Eye custom namespace of OcrCallsTotal, OcrCallsSuccess, OcrCallsFailed, OcrBilledUnits, OcrCallDuration."
  value       = var.metrics_namespace
}
