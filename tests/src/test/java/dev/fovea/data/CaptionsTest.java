package dev.fovea.data;

import dev.fovea.data.coco.CocoCaptions;
import dev.fovea.data.coco.CocoDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scene captions and COCO's captions format. */
class CaptionsTest {
    @TempDir Path tmp;

    static Scenes.Item item(int label, double x, double y, double w, double h) { return new Scenes.Item(label, 0, new double[]{x, y, w, h}, null); }

    @Test void captionsNameEachItemAndWhereItIsInReadingOrder() {
        // a bag (8) bottom right, an ankle boot (9) top left, a sneaker (7) in the middle row on the left
        Scenes.Scene s = new Scenes.Scene(64, new float[64 * 64], List.of(item(8, 40, 44, 20, 18), item(9, 2, 1, 20, 19), item(7, 0, 25, 18, 12)), new int[64 * 64]);
        assertEquals(List.of("an ankle boot at the top left, a sneaker on the left and a bag at the bottom right",
                "there is an ankle boot at the top left, a sneaker on the left and a bag at the bottom right",
                "a bag at the bottom right, a sneaker on the left and an ankle boot at the top left"), SceneCaptions.captions(s));
        Scenes.Scene one = new Scenes.Scene(64, new float[64 * 64], List.of(item(3, 20, 20, 24, 24)), new int[64 * 64]);
        assertEquals(List.of("a dress in the center", "there is a dress in the center"), SceneCaptions.captions(one));
    }

    @Test void captionFilesRoundTripAndNameBadAnnotations() throws IOException {
        Path f = tmp.resolve("captions.json");
        List<CocoDataset.Image> ims = List.of(new CocoDataset.Image(4, "a.png", 64, 64), new CocoDataset.Image(9, "b.png", 64, 64));
        CocoCaptions c = new CocoCaptions(f, ims, Map.of(4L, List.of("a bag at the top", "there is a \"bag\"")));
        Files.writeString(f, c.toJson());
        CocoCaptions back = CocoCaptions.read(f);
        assertEquals(List.of("a bag at the top", "there is a \"bag\""), back.captions(4));
        assertEquals(List.of(), back.captions(9));
        Files.writeString(f, "{\"images\":[{\"id\":1,\"file_name\":\"a.png\",\"width\":8,\"height\":8}],\"annotations\":[{\"id\":5,\"image_id\":2,\"caption\":\"a bag\"}]}");
        var unknown = assertThrows(IllegalArgumentException.class, () -> CocoCaptions.read(f));
        assertEquals(f + ": annotation 5: image_id 2 is not among the images", unknown.getMessage());
        Files.writeString(f, "{\"images\":[{\"id\":1,\"file_name\":\"a.png\",\"width\":8,\"height\":8}],\"annotations\":[{\"id\":6,\"image_id\":1,\"caption\":\" . \"}]}");
        var empty = assertThrows(IllegalArgumentException.class, () -> CocoCaptions.read(f));
        assertTrue(empty.getMessage().endsWith("annotation 6: the caption \" . \" has no words"), empty.getMessage());
        Files.writeString(f, "{\"images\":[{\"id\":1,\"file_name\":\"a.png\",\"width\":8,\"height\":8}],\"annotations\":[{\"id\":7,\"image_id\":1}]}");
        var missing = assertThrows(IllegalArgumentException.class, () -> CocoCaptions.read(f));
        assertTrue(missing.getMessage().endsWith("annotation 7: missing string \"caption\""), missing.getMessage());
    }
}
