// Command push-image pushes a small random image to a registry, for trying
// image triggers on the local stack (make run prints how):
//
//	go run ./hack/push-image 127.0.0.1:41967/team/web:1.3.0
//
// It prints the pushed digest. The image has one random layer; pushing the
// same tag again pushes new content, so the tag's digest moves.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/sluice-dev/sluice/pkg/testing/registry"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: push-image <registry>/<repository>:<tag>")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	digest, err := registry.Push(ctx, os.Args[1], int(time.Now().UnixNano()), authn.Anonymous)
	if err != nil {
		fmt.Fprintf(os.Stderr, "push-image: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}
