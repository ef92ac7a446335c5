module github.com/iam-userinfo/userinfo

go 1.26.8
