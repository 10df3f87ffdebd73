# ocrflow on Huawei Cloud: FunctionGraph functions triggered by uploads to an OBS bucket,
# calling OCR with the function agency's temporary keys, metrics in Cloud Eye, logs in LTS.
#
# Runs with Terraform (make deploy-huaweicloud) and as a Resource Formation Service (RFS)
# stack: RFS runs these files as they are, with the stack's agency as credentials.

terraform {
  required_version = ">= 1.3.0"

  required_providers {
    huaweicloud = {
      source = "huaweicloud/huaweicloud"
      # the version whose published schema tests/deploy checks this configuration against
      # (deploy/huaweicloud/schema/provider.json)
      version = "= 1.97.1"
    }
  }
}

# Credentials come from the environment (HW_ACCESS_KEY / HW_SECRET_KEY, or an RFS stack's
# agency), never from this configuration.
provider "huaweicloud" {
  region = var.region
}
